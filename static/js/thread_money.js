/*
 * thread_money.js: money cards in a conversation update in place, live, for everyone.
 *
 * Runs after live.js (window.Live). A card is the element rendered by
 * templates/messaging/money/_card.html: [data-money-card] with data-message-id, data-card-url
 * and the ids it shows (data-payment-id, data-request-ids, data-escrow-id, data-split-id).
 * Like messaging.js, it never builds markup from event data: an event only says "this
 * changed", and the card is re-fetched from the server (escaped HTML) and swapped in.
 *
 *   payment.updated / payment.returned / payment.received / payment.arriving -> cards with that payment
 *   request.updated / request.new                                           -> cards with that request
 *   escrow.updated                                                          -> cards with that escrow
 *   balance.changed                                                         -> every still-open card
 *   live:connected (also after a reconnect)                                 -> every still-open card
 *
 * Placeholders ([data-needs-render]) are filled on load and whenever they are inserted. Card buttons (forms with class
 * money-card-form) are sent with fetch: the server answers the fresh card, or a JSON error
 * shown with alert(); without JavaScript they are plain forms that redirect back.
 */
(function () {
  "use strict";

  if (window.ThreadMoney) return; // included twice: run once
  window.ThreadMoney = {};

  var pending = {}; // message id -> true while a fetch for it runs (coalesce bursts)
  var again = {}; // message id -> true if another refresh was asked meanwhile

  function warn(error) {
    if (window.console) console.warn("thread_money.js:", error);
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function cardsBy(selector) {
    return Array.prototype.slice.call(document.querySelectorAll("[data-money-card]" + selector));
  }

  function cardFor(messageId) {
    return document.querySelector('[data-money-card][data-message-id="' + messageId + '"]');
  }

  function swap(messageId, html) {
    var current = cardFor(messageId);
    if (!current) return;
    var box = document.createElement("template");
    box.innerHTML = html; // escaped by the server's template
    var fresh = box.content.querySelector("[data-money-card]");
    if (fresh) current.replaceWith(fresh);
  }

  function refresh(card) {
    var id = card && card.dataset.messageId;
    var url = card && card.dataset.cardUrl;
    if (!id || !url) return;
    if (pending[id]) {
      again[id] = true;
      return;
    }
    pending[id] = true;
    fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Requested-With": "fetch", Accept: "text/html" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("card " + id + " answered " + response.status);
        return response.text();
      })
      .then(function (html) { swap(id, html); })
      .catch(warn)
      .then(function () {
        delete pending[id];
        if (again[id]) {
          delete again[id];
          var current = cardFor(id);
          if (current) refresh(current);
        }
      });
  }

  function refreshAll(list) {
    list.forEach(refresh);
  }

  function byAttr(name, value) {
    if (value === undefined || value === null || value === "") return [];
    var safe = String(parseInt(value, 10));
    if (safe === "NaN") return [];
    if (name === "request-ids") return cardsBy('[data-request-ids~="' + safe + '"]');
    return cardsBy("[data-" + name + '="' + safe + '"]');
  }

  function on(types, fn) {
    types.forEach(function (type) {
      if (window.Live && window.Live.on) window.Live.on(type, fn);
      else document.addEventListener("live:" + type, function (event) { fn(event.detail || {}); });
    });
  }

  var openCards = (function () {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(function () { refreshAll(cardsBy('[data-open="1"]')); }, 250);
    };
  })();

  function init() {
    on(["payment.updated", "payment.returned", "payment.received", "payment.arriving"], function (data) {
      refreshAll(byAttr("payment-id", data.payment_id));
    });
    on(["request.updated", "request.new"], function (data) {
      refreshAll(byAttr("request-ids", data.request_id));
    });
    on(["escrow.updated"], function (data) {
      refreshAll(byAttr("escrow-id", data.id || data.escrow_id));
    });
    on(["balance.changed"], openCards);
    document.addEventListener("live:connected", openCards);

    // Placeholders: on load, and whenever a page script inserts messages (new ones, or one
    // re-rendered by messaging.js) whose cards the server did not render for the viewer.
    refreshAll(cardsBy('[data-needs-render="1"]'));
    if (window.MutationObserver) {
      new MutationObserver(function (records) {
        records.forEach(function (record) {
          Array.prototype.forEach.call(record.addedNodes, function (node) {
            if (node.nodeType !== 1) return;
            if (node.matches && node.matches('[data-money-card][data-needs-render="1"]')) refresh(node);
            if (node.querySelectorAll) refreshAll(Array.prototype.slice.call(node.querySelectorAll('[data-money-card][data-needs-render="1"]')));
          });
        });
      }).observe(document.body, { childList: true, subtree: true });
    }

    // Card buttons: send with fetch and swap in the card the server renders.
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form || !form.classList || !form.classList.contains("money-card-form")) return;
      var card = form.closest("[data-money-card]");
      if (!card) return;
      event.preventDefault();
      // messaging.js asks data-confirm questions in the capture phase; ask here only without it.
      if (!window.Messaging && form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      var buttons = form.querySelectorAll("button");
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
      var id = card.dataset.messageId;
      fetch(form.getAttribute("action"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", "X-CSRFToken": csrfToken(), Accept: "text/html" },
        body: new FormData(form),
      })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (response.ok && type.indexOf("text/html") === 0) {
            return response.text().then(function (html) { swap(id, html); });
          }
          return response.text().then(function (text) {
            var message = "That did not work. Try again.";
            try {
              var parsed = JSON.parse(text);
              if (parsed && parsed.error && parsed.error.message) message = parsed.error.message;
            } catch (ignored) { /* not JSON */ }
            window.alert(message);
            var current = cardFor(id);
            if (current) refresh(current);
          });
        })
        .catch(function (error) {
          warn(error);
          window.alert("Nothing was done: check your connection and try again.");
          Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
        });
    });
  }

  window.ThreadMoney.refresh = refresh;
  window.ThreadMoney.refreshAll = function () { refreshAll(cardsBy("")); };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
