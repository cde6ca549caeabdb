/*
 * wallet.js: the wallet pages without reloads.
 *
 * - Wallet page (#wallet-live): when money moves (balance.changed, payment.*
 *   events from live.js), re-fetch "?partial=1" and swap in the balances and,
 *   unless an older page is shown, the activity list. Also once the socket
 *   (re)connects, since events sent while it was down are not replayed.
 * - Payment detail (#payment-detail): the same for that payment's events.
 * - Send form: "To" autocomplete from /wallet/people/?q= (an HTML fragment the
 *   server escaped), with the keyboard (up, down, enter, escape) and the mouse.
 */
(function () {
  "use strict";

  var MONEY_EVENTS = ["balance.changed", "payment.received", "payment.updated", "payment.returned", "payment.arriving"];

  function fetchHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html", "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) throw new Error("wallet.js: " + url + " answered " + response.status);
        return response.text();
      })
      .then(function (text) {
        var box = document.createElement("template");
        box.innerHTML = text;
        return box.content;
      });
  }

  // Run `fn` at most once per `wait` ms burst (one payment sends several events).
  function debounce(fn, wait) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, wait);
    };
  }

  function onMoneyEvents(handler) {
    if (!window.Live) return;
    MONEY_EVENTS.forEach(function (type) { window.Live.on(type, handler); });
    document.addEventListener("live:connected", function () { handler({}); });
  }

  // --- Wallet page ------------------------------------------------------------------

  function setupWallet(root) {
    var refreshes = 0;
    var refresh = debounce(function () {
      var params = new URLSearchParams(location.search);
      params.set("partial", "1");
      fetchHtml(location.pathname + "?" + params.toString())
        .then(function (fragment) {
          ["wallet-balances", "activity"].forEach(function (id) {
            if (id === "activity" && params.get("cursor")) return; // reading an older page: keep it
            var fresh = fragment.getElementById(id);
            var current = document.getElementById(id);
            if (fresh && current) current.replaceWith(fresh);
          });
          refreshes += 1;
          root.dataset.refreshes = String(refreshes); // read by the browser tests
        })
        .catch(function (error) { if (window.console) console.warn(error); });
    }, 150);
    onMoneyEvents(refresh);
  }

  // --- Payment detail -------------------------------------------------------------------

  function setupDetail(root) {
    var id = parseInt(root.dataset.paymentId || "0", 10);
    var refresh = debounce(function () {
      fetchHtml(location.pathname + "?partial=1")
        .then(function (fragment) {
          root.replaceChildren(fragment);
        })
        .catch(function (error) { if (window.console) console.warn(error); });
    }, 150);
    onMoneyEvents(function (data) {
      if (!data || !data.payment_id || data.payment_id === id) refresh();
    });
  }

  // --- People autocomplete ----------------------------------------------------------

  function setupPeople(input, list) {
    var url = list.dataset.url;
    var active = -1;
    var lastQuery = null;
    var counter = 0;

    function options() { return Array.prototype.slice.call(list.querySelectorAll("[role=option]")); }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = options();
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) { item.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }

    function choose(item) {
      if (!item || !item.dataset.handle) return;
      input.value = "@" + item.dataset.handle;
      close();
      var amount = document.getElementById("id_amount");
      if (amount && !amount.value) amount.focus();
    }

    var search = debounce(function () {
      var query = input.value.trim();
      if (query === lastQuery) return;
      lastQuery = query;
      if (!query.replace(/^@/, "")) { list.replaceChildren(); close(); return; }
      var mine = ++counter;
      fetchHtml(url + "?q=" + encodeURIComponent(query))
        .then(function (fragment) {
          if (mine !== counter) return; // a newer search answered first
          list.replaceChildren(fragment);
          var any = list.children.length > 0;
          list.hidden = !any;
          input.setAttribute("aria-expanded", any ? "true" : "false");
          active = -1;
        })
        .catch(function (error) { if (window.console) console.warn(error); });
    }, 150);

    input.addEventListener("input", search);
    input.dataset.autocomplete = "ready"; // tests wait for this before typing
    input.addEventListener("focus", function () { if (list.children.length) { list.hidden = false; } });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && active >= 0) { event.preventDefault(); choose(options()[active]); }
      else if (event.key === "Escape") { close(); }
    });
    // mousedown, not click: it fires before the input's blur closes the list.
    list.addEventListener("mousedown", function (event) {
      var item = event.target.closest("[role=option]");
      if (item) { event.preventDefault(); choose(item); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  function init() {
    var wallet = document.getElementById("wallet-live");
    if (wallet) setupWallet(wallet);
    var detail = document.getElementById("payment-detail");
    if (detail) setupDetail(detail);
    var to = document.getElementById("id_to");
    var list = document.getElementById("people-suggestions");
    if (to && list) setupPeople(to, list);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
