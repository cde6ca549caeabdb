/*
 * requests.js: the requests list (payments/requests/list.html). Incoming requests (and changes
 * to ours) appear without a reload: on a live "request.*" event, re-fetch this tab's list.
 */
(function () {
  "use strict";

  function start() {
    var box = document.getElementById("requests-list");
    if (!box || !window.Live) return;
    var pending = null;
    function reload() {
      clearTimeout(pending);
      pending = setTimeout(function () {
        var url = "?tab=" + encodeURIComponent(box.dataset.tab) + "&page=" + encodeURIComponent(box.dataset.page) + "&fragment=1";
        fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (html) { if (html !== null) box.innerHTML = html; })
          .catch(function () {});
      }, 150);
    }
    window.Live.on("request.new", reload);
    window.Live.on("request.updated", reload);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
