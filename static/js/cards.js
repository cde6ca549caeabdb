/*
 * cards.js: the card page (/cards/).
 *
 * - Live: on "card.issued", "card.updated" or "card.authorization" (dispatched by live.js as
 *   "live:<type>" on document) it fetches the card area again (/cards/?fragment=1) and swaps it in,
 *   so a newly issued card, a freeze or a purchase appear without a reload.
 * - Reveal: the full number and CVV are shown for 60 seconds with a countdown, then removed from
 *   the page (not just hidden). No inline scripts: everything is wired from here.
 * - Demo shop (/cards/demo-shop/): the Pay button says what it charges ("Pay $5.25") for the item
 *   picked, so the amount is in front of the person when they press it.
 */
(function () {
  "use strict";

  var checkout = document.querySelector("[data-testid='checkout-form']");
  if (checkout) {
    var payAmount = checkout.querySelector("[data-pay-amount]");
    var syncPay = function () {
      var picked = checkout.querySelector("input[name='item']:checked");
      if (payAmount) payAmount.textContent = picked && picked.dataset.price ? " " + picked.dataset.price : "";
    };
    checkout.addEventListener("change", function (e) {
      if (e.target && e.target.name === "item") syncPay();
    });
    syncPay();
  }

  var area = document.getElementById("card-area");
  if (!area) return;
  var timer = null;
  var pending = null;

  function startCountdown() {
    if (timer) { clearInterval(timer); timer = null; }
    var box = area.querySelector("[data-testid='card-revealed']");
    if (!box) return;
    var until = parseInt(box.dataset.visibleUntil || "0", 10) * 1000;
    var total = parseInt(box.dataset.seconds || "60", 10) * 1000;
    // The server says until when; never show it longer than the reveal lasts from now.
    var end = Math.min(until || Date.now() + total, Date.now() + total);
    var counter = box.querySelector("[data-countdown]");

    function hide() {
      if (timer) { clearInterval(timer); timer = null; }
      box.remove(); // the secrets leave the DOM
      var note = area.querySelector("[data-testid='card-hidden-note']");
      if (note) note.hidden = false;
      if (window.history && history.replaceState && /\/reveal\/?$/.test(location.pathname)) {
        history.replaceState(null, "", "/cards/"); // a reload must not reveal again
      }
    }

    function tick() {
      var left = Math.ceil((end - Date.now()) / 1000);
      if (left <= 0) return hide();
      if (counter) counter.textContent = String(left);
    }

    var hideLink = box.querySelector("[data-hide-now]");
    if (hideLink) hideLink.addEventListener("click", function (e) { e.preventDefault(); hide(); });
    tick();
    timer = setInterval(tick, 250);
  }

  function refresh() {
    if (pending) return pending;
    var url = area.dataset.fragmentUrl;
    if (!url) { location.reload(); return null; }
    pending = fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("card area: " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (timer) { clearInterval(timer); timer = null; } // a refresh hides revealed details
        area.innerHTML = html;
        area.dataset.refreshedAt = String(Date.now()); // read by the browser tests
        document.dispatchEvent(new CustomEvent("cards:refreshed"));
      })
      .catch(function (error) { if (window.console) console.warn("cards.js:", error); })
      .then(function () { pending = null; });
    return pending;
  }

  ["card.issued", "card.updated", "card.authorization"].forEach(function (type) {
    document.addEventListener("live:" + type, refresh);
  });
  // Catch up after a reconnect (something may have changed while the socket was down), and on the
  // first connect while there is no card yet (it may have been issued between render and connect).
  var connectedOnce = false;
  document.addEventListener("live:connected", function () {
    if (connectedOnce || area.querySelector("[data-testid='card-empty']")) refresh();
    connectedOnce = true;
  });

  startCountdown();
})();
