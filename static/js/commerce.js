/*
 * commerce.js: the shop pages.
 *
 * - Live order page: on "order.updated" (dispatched by live.js as "live:order.updated" on document)
 *   for this order, fetch the order area again (?fragment=1) and swap it in, so a status change
 *   made by the other party (shipped, confirmed, refunded, disputed) appears without a reload.
 * - Order lists marked data-live-refresh: reload the list's page section the same way.
 * - Listing gallery: thumbnails swap the main image. Quantity for "Add to cart" follows the
 *   "Buy now" quantity field. Listing form: shipping fields only for physical items.
 * No inline scripts: everything is wired from here.
 */
(function () {
  "use strict";

  function refetch(url, target, selector) {
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        if (selector) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector(selector);
          if (fresh) target.replaceWith(fresh);
        } else {
          target.innerHTML = html;
        }
      })
      .catch(function () { /* the socket is only the fast path: a reload shows the truth */ });
  }

  var area = document.getElementById("order-area");
  if (area) {
    var orderId = String(area.dataset.orderId);
    // Never swap the area out from under a half-filled form (ship, refund, dispute): the person's
    // typing would be lost. While a form is being filled in, say that the order changed instead.
    var typing = false;
    area.addEventListener("input", function () { typing = true; });
    area.addEventListener("submit", function () { typing = false; });
    function refresh() {
      if (!typing) {
        refetch(area.dataset.fragmentUrl, area, null);
        return;
      }
      if (area.querySelector("[data-order-changed]")) return;
      var note = document.createElement("p");
      note.className = "notice";
      note.setAttribute("role", "status");
      note.setAttribute("data-order-changed", "");
      note.append("This order was just updated. ");
      var link = document.createElement("a");
      link.href = location.pathname;
      link.textContent = "Show the latest";
      note.append(link);
      area.prepend(note);
    }
    document.addEventListener("live:order.updated", function (e) {
      var data = e.detail || {};
      if (String(data.order_id) !== orderId) return;
      refresh();
    });
    document.addEventListener("live:connected", refresh);
  }

  document.querySelectorAll("[data-live-refresh]").forEach(function (list) {
    var testid = list.getAttribute("data-testid");
    document.addEventListener("live:" + list.dataset.liveRefresh, function () {
      var current = document.querySelector("[data-testid='" + testid + "']");
      if (current) refetch(location.href, current, "[data-testid='" + testid + "']");
    });
  });

  var main = document.querySelector("[data-gallery-main]");
  if (main) {
    document.querySelectorAll("[data-gallery-src]").forEach(function (button) {
      button.addEventListener("click", function () {
        main.src = button.dataset.gallerySrc;
        main.alt = button.dataset.galleryAlt || "";
      });
    });
  }

  var qtySource = document.querySelector("[data-qty-source]");
  var qtyTarget = document.querySelector("[data-qty-target]");
  if (qtySource && qtyTarget) {
    qtySource.addEventListener("input", function () { qtyTarget.value = qtySource.value || "1"; });
  }

  document.querySelectorAll(".listing-form").forEach(function (form) {
    var physical = form.querySelector("[data-physical-only]");
    if (!physical) return;
    function sync() {
      var checked = form.querySelector("input[name='kind']:checked");
      physical.hidden = !!checked && checked.value === "digital";
    }
    form.querySelectorAll("input[name='kind']").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
  });
})();
