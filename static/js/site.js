/*
 * site.js: small behaviours every page may use, loaded on every page. It replaces inline
 * scripts and on*= attributes, which the Content-Security-Policy forbids (script-src 'self').
 *
 * - .alert-close buttons dismiss their alert.
 * - form[data-ask]: asks window.confirm(data-ask) before submitting (cancel keeps the page).
 * - [data-multi-people]: a field of several @handles with live suggestions from the URL in
 *   its list's data-url; picking a person replaces the word being typed with "@handle, ".
 */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var close = event.target.closest ? event.target.closest(".alert-close") : null;
    if (close && close.parentElement) close.parentElement.remove();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.dataset || !form.dataset.ask) return;
    if (!window.confirm(form.dataset.ask)) event.preventDefault();
  });

  function peopleField(box) {
    if (box.dataset.peopleBound) return;
    box.dataset.peopleBound = "1";
    var input = box.querySelector("input");
    var list = box.querySelector(".people-suggestions");
    if (!input || !list || !window.fetch) return;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    var timer = null, active = -1, counter = 0;
    function options() { return Array.prototype.slice.call(list.querySelectorAll("[role=option]")); }
    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; }
    function word() { var parts = input.value.split(/[\s,]+/); return parts[parts.length - 1] || ""; }
    function choose(item) {
      if (!item || !item.dataset.handle) return;
      var text = input.value, cut = text.length - word().length;
      input.value = text.slice(0, cut) + "@" + item.dataset.handle + ", ";
      close();
      input.focus();
    }
    function highlight(index) {
      var items = options();
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) { item.setAttribute("aria-selected", i === active ? "true" : "false"); });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var query = word();
        if (!query.replace(/^@/, "")) { list.textContent = ""; close(); return; }
        var mine = ++counter;
        fetch(list.dataset.url + "?q=" + encodeURIComponent(query), { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (response) { return response.ok ? response.text() : ""; })
          .then(function (html) {
            if (mine !== counter) return;
            var tpl = document.createElement("template");
            tpl.innerHTML = html; // the server escaped it
            list.replaceChildren(tpl.content);
            list.hidden = list.children.length === 0;
            input.setAttribute("aria-expanded", list.hidden ? "false" : "true");
            active = -1;
          })
          .catch(function () {});
      }, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && active >= 0) { event.preventDefault(); choose(options()[active]); }
      else if (event.key === "Escape") { close(); }
    });
    list.addEventListener("mousedown", function (event) {
      var item = event.target.closest("[role=option]");
      if (item) { event.preventDefault(); choose(item); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  function bindAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-multi-people]"), peopleField);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", bindAll);
  else bindAll();
  // Fields that arrive later in a fragment (e.g. a re-rendered conversation header).
  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        if (records[i].addedNodes.length) { bindAll(); return; }
      }
    }).observe(document.documentElement, { childList: true, subtree: true });
  }
})();
