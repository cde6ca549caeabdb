/*
 * live.js: the tab's one websocket (DESIGN §4).
 *
 * Events arrive as {id, type, data} and are re-dispatched on `document` as
 * "live:<type>" (detail = data) and "live:event" (detail = the whole event).
 * The socket is only the fast path: after a RE-connect we ask the API for
 * every notification newer than the last one we saw, so nothing is lost.
 *
 * Other scripts: window.Live.on("message.new", fn) and window.Live.send(obj).
 */
(function () {
  "use strict";

  var body = document.body;
  if (!body || !body.dataset.userId) return; // signed out: no socket

  var CLOSE_UNAUTHENTICATED = 4401;
  var MIN_DELAY = 1000;
  var MAX_DELAY = 30000;

  // Notifications up to this id were already counted in the page as rendered.
  var baselineId = parseInt(body.dataset.lastNotificationId || "0", 10) || 0;
  var lastId = baselineId; // the highest notification id seen so far
  var seen = new Set();
  var socket = null;
  var attempts = 0;
  var stopped = false;
  var queue = []; // messages sent while disconnected

  function badge() {
    return document.getElementById("nav-notification-badge");
  }

  function setBadge(count) {
    var el = badge();
    if (!el) return;
    count = Math.max(0, count | 0);
    el.dataset.unread = String(count);
    el.textContent = count > 99 ? "99+" : String(count);
    el.hidden = count === 0;
  }

  function toast(title, url) {
    var box = document.getElementById("toasts");
    if (!box || !title) return;
    var item = document.createElement("div");
    item.className = "toast";
    item.setAttribute("role", "status");
    if (url) {
      var link = document.createElement("a");
      link.href = url;
      link.textContent = title;
      item.appendChild(link);
    } else {
      item.textContent = title;
    }
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }

  function handle(event) {
    if (!event || typeof event.type !== "string") return;
    var data = event.data || {};
    if (event.type === "notification.new") {
      var id = event.id || data.id;
      if (id) {
        if (seen.has(id) || id <= baselineId) return; // already counted
        seen.add(id);
        if (id > lastId) lastId = id;
      }
      if (!data.read_at) { // caught-up items may have been read in another tab
        var el = badge();
        setBadge((el ? parseInt(el.dataset.unread || "0", 10) || 0 : 0) + 1);
        toast(data.title, data.url);
      }
    } else if (event.type === "notification.read") {
      if (typeof data.unread_count === "number") setBadge(data.unread_count);
    }
    document.dispatchEvent(new CustomEvent("live:" + event.type, { detail: data }));
    document.dispatchEvent(new CustomEvent("live:event", { detail: event }));
  }

  // Ask the API for everything after the last id we saw, following `next` links.
  function catchUp(url) {
    url = url || "/api/v1/notifications/?after=" + lastId;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("catch-up failed: " + response.status);
        return response.json();
      })
      .then(function (page) {
        (page.results || []).forEach(function (item) {
          handle({ id: item.id, type: "notification.new", data: item }); // dedupes by id
        });
        if (page.next) return catchUp(page.next);
      })
      .catch(function (error) {
        if (window.console) console.warn("live.js:", error);
      });
  }

  function reconnectLater() {
    if (stopped) return;
    var delay = Math.min(MAX_DELAY, MIN_DELAY * Math.pow(2, attempts));
    attempts += 1;
    delay = delay / 2 + Math.random() * (delay / 2); // jitter: spread a server restart's reconnects
    setTimeout(connect, delay);
  }

  function connect() {
    if (stopped) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/");

    socket.onopen = function () {
      attempts = 0;
      window.__liveConnected = true; // read by the browser tests
      document.dispatchEvent(new CustomEvent("live:connected"));
      // Also on the first connect: something may have arrived between the page
      // render (our baseline id) and joining the group. Seen ids are skipped.
      catchUp();
      while (queue.length && socket.readyState === WebSocket.OPEN) socket.send(queue.shift());
    };
    socket.onmessage = function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (event.type === "pong") return;
      handle(event);
    };
    socket.onclose = function (close) {
      socket = null;
      window.__liveConnected = false;
      if (close.code === CLOSE_UNAUTHENTICATED) {
        stopped = true; // signed out elsewhere: do not hammer the server
        return;
      }
      reconnectLater();
    };
  }

  window.Live = {
    on: function (type, fn) {
      var name = type === "event" ? "live:event" : "live:" + type;
      var listener = function (e) { fn(e.detail); };
      document.addEventListener(name, listener);
      return function off() { document.removeEventListener(name, listener); };
    },
    send: function (obj) {
      var text = JSON.stringify(obj);
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
      else if (queue.length < 100) queue.push(text);
    },
  };

  connect();
})();
