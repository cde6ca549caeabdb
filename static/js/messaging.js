/*
 * messaging.js: conversations and the inbox without reloads, and the nav's unread badge.
 *
 * Runs after live.js (window.Live). Everything it shows comes from the server as
 * HTML the server escaped (fragments), never from building markup out of event
 * data: an event only says "something changed, fetch it".
 *
 * - Nav badge (#nav-message-badge, on every page): re-fetch {"unread", "requests"}
 *   from its data-url on message.new / message.read / conversation.updated and
 *   after the socket (re)connects.
 * - Inbox (#inbox): re-fetch "?partial=1" (tabs + list) on the same events.
 * - Conversation (#conversation):
 *   message.new      -> fetch messages after the last id on the page and append (dedupe by id)
 *   message.updated  -> fetch that message (?id=) and replace it in place
 *   message.read     -> re-fetch the "Seen" line
 *   typing           -> "Alice is typing…" for 5 s
 *   live:connected, visibilitychange, online -> catch up with ?after=<last id>, so a dropped
 *   socket loses nothing and duplicates nothing.
 *   The composer posts with fetch (Enter sends, Shift+Enter is a new line), sends
 *   {"type": "typing"} at most every 3 s, and messages are marked read while the tab is visible.
 */
(function () {
  "use strict";

  if (window.Messaging) return; // included by a page and by the layout: run once
  window.Messaging = {};

  var body = document.body;
  var me = parseInt((body && body.dataset.userId) || "0", 10) || 0;
  if (!me) return;

  var TYPING_SEND_EVERY = 3000;
  var TYPING_SHOW_FOR = 5000;

  // --- Small helpers ----------------------------------------------------------------------

  function noop() {}

  function warn(error) {
    if (window.console) console.warn("messaging.js:", error);
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function request(url, options) {
    options = options || {};
    var method = options.method || "GET";
    var headers = { "X-Requested-With": "fetch", Accept: options.accept || "text/html" };
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    return fetch(url, { method: method, credentials: "same-origin", headers: headers, body: options.body, cache: "no-store" });
  }

  function toFragment(html) {
    var box = document.createElement("template");
    box.innerHTML = html; // escaped by the server's templates
    return box.content;
  }

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, wait);
    };
  }

  function errorText(response) {
    return response
      .json()
      .then(function (data) {
        return (data && data.error && data.error.message) || "Something went wrong. Try again.";
      })
      .catch(function () {
        return response.status === 404 ? "This conversation is no longer available." : "Something went wrong. Try again.";
      });
  }

  function onLive(types, fn) {
    if (!window.Live) return;
    types.forEach(function (type) { window.Live.on(type, fn); });
  }

  // Forms that ask first (leave, remove a member, delete a request). Capture phase: before any fetch handler.
  // Only messaging's own pages: other pages ask their own questions (asking twice cancels the second).
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!form || !form.closest || !form.closest("#conversation, #inbox")) return;
      if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );

  // --- The nav badge ------------------------------------------------------------------------

  function setupBadge() {
    var badge = document.getElementById("nav-message-badge");
    if (!badge) return;
    var url = badge.dataset.url || "/messages/unread/";
    var refresh = debounce(function () {
      request(url, { accept: "application/json" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data || typeof data.unread !== "number") return;
          var count = Math.max(0, data.unread | 0);
          badge.dataset.unread = String(count);
          badge.textContent = count > 99 ? "99+" : String(count);
          badge.hidden = count === 0;
          document.dispatchEvent(new CustomEvent("messaging:unread", { detail: data }));
        })
        .catch(warn);
    }, 250);
    onLive(["message.new", "message.read", "conversation.updated"], refresh);
    document.addEventListener("live:connected", refresh);
    window.Messaging.refreshBadge = refresh;
  }

  // --- The inbox -----------------------------------------------------------------------------

  function setupInbox(root) {
    var box = document.getElementById("inbox-body");
    if (!box) return;
    var refreshes = 0;
    var refresh = debounce(function () {
      var params = new URLSearchParams(location.search);
      params.set("partial", "1");
      request(location.pathname + "?" + params.toString())
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) return;
          box.innerHTML = html;
          refreshes += 1;
          root.dataset.refreshes = String(refreshes); // read by the browser tests
        })
        .catch(warn);
    }, 200);
    onLive(["message.new", "message.updated", "message.read", "conversation.updated"], refresh);
    document.addEventListener("live:connected", refresh);
  }

  // --- A conversation ----------------------------------------------------------------------------

  function setupConversation(root) {
    var conversationId = parseInt(root.dataset.conversationId, 10);
    var list = document.getElementById("message-list");
    var thread = document.getElementById("thread");
    var typingBox = document.getElementById("typing");
    var fragmentUrl = root.dataset.fragmentUrl;
    var receiptsUrl = root.dataset.receiptsUrl;
    var readUrl = root.dataset.readUrl;
    var headerUrl = root.dataset.headerUrl;
    var history = root.dataset.history === "1"; // an older page: live messages go to the latest page
    var receipt = document.getElementById("receipt");
    var closed = false;

    function items() { return list.querySelectorAll("li.msg[data-message-id]"); }
    function idOf(li) { return parseInt(li.dataset.messageId, 10) || 0; }
    function lastId() {
      var max = 0;
      items().forEach(function (li) { max = Math.max(max, idOf(li)); });
      return max;
    }
    function firstId() {
      var first = list.querySelector("li.msg[data-message-id]");
      return first ? idOf(first) : 0;
    }
    var lastReadSent = lastId(); // opening the page marked these read on the server
    root.dataset.lastId = String(lastReadSent);

    function nearBottom() {
      return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 200;
    }
    function scrollToBottom() { window.scrollTo(0, document.documentElement.scrollHeight); }

    // The "Seen" line lives under the message it belongs to (data-anchor).
    function parkReceipt() {
      if (receipt && thread && receipt.parentNode !== thread) thread.appendChild(receipt);
    }
    function placeReceipt() {
      if (!receipt) return;
      var anchor = receipt.dataset.anchor;
      var slot = anchor ? document.querySelector("#m-" + anchor + " .msg-receipt-slot") : null;
      if (slot && !receipt.hidden) {
        if (receipt.parentNode !== slot) slot.appendChild(receipt);
      } else {
        parkReceipt();
      }
    }

    // Put server-rendered <li>s in place: replace the ones we have, insert the others in id order.
    function insert(fragment) {
      var added = 0;
      Array.prototype.slice.call(fragment.querySelectorAll("li.msg[data-message-id]")).forEach(function (li) {
        var id = idOf(li);
        var existing = document.getElementById("m-" + id);
        if (existing) {
          if (receipt && existing.contains(receipt)) parkReceipt();
          existing.replaceWith(li);
          return;
        }
        var next = null;
        var all = items();
        for (var i = 0; i < all.length; i++) {
          if (idOf(all[i]) > id) { next = all[i]; break; }
        }
        list.insertBefore(li, next);
        added += 1;
      });
      if (added) {
        var empty = document.getElementById("thread-empty");
        if (empty) empty.remove();
      }
      placeReceipt();
      root.dataset.lastId = String(lastId());
      return added;
    }

    function gone() {
      if (closed) return;
      closed = true;
      var form = document.getElementById("composer");
      var note = document.createElement("p");
      note.className = "composer-closed card";
      note.textContent = "You are no longer in this conversation.";
      if (form) form.replaceWith(note);
      else root.appendChild(note);
    }

    // --- Catching up: ?after=<last id>, repeated while the server says there is more.
    var catching = false;
    var again = false;
    function catchUp() {
      if (history || closed) return;
      if (catching) { again = true; return; }
      catching = true;
      again = false;
      var stick = nearBottom();
      request(fragmentUrl + "?after=" + lastId())
        .then(function (response) {
          if (response.status === 404) { gone(); return false; }
          if (!response.ok) throw new Error("catch-up answered " + response.status);
          var more = response.headers.get("X-Has-More") === "1";
          return response.text().then(function (html) {
            var added = insert(toFragment(html));
            if (added && stick) scrollToBottom();
            return more && added > 0;
          });
        })
        .then(function (more) {
          catching = false;
          markRead();
          refreshReceipts();
          if (more || again) catchUp();
        })
        .catch(function (error) {
          catching = false;
          warn(error);
        });
    }

    function refreshOne(id) {
      if (!document.getElementById("m-" + id)) {
        if (id > lastId()) catchUp();
        return;
      }
      request(fragmentUrl + "?id=" + id)
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) insert(toFragment(html)); })
        .catch(warn);
    }

    function markRead() {
      if (history || closed || document.visibilityState !== "visible") return;
      var id = lastId();
      if (!id || id <= lastReadSent) return;
      lastReadSent = id;
      var data = new FormData();
      data.append("up_to_id", String(id));
      request(readUrl, { method: "POST", body: data, accept: "application/json" }).catch(warn);
    }

    var refreshReceipts = debounce(function () {
      if (history || closed) return;
      request(receiptsUrl)
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var fresh = toFragment(html).querySelector("#receipt");
          if (!fresh) return;
          if (receipt) receipt.replaceWith(fresh);
          else if (thread) thread.appendChild(fresh);
          receipt = fresh;
          placeReceipt();
        })
        .catch(warn);
    }, 200);

    var refreshHeader = debounce(function () {
      request(headerUrl)
        .then(function (response) {
          if (response.status === 404) { gone(); return null; }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === null) return;
          var fresh = toFragment(html).querySelector("#conv-header");
          var current = document.getElementById("conv-header");
          if (fresh && current && !current.querySelector("details[open]")) current.replaceWith(fresh);
        })
        .catch(warn);
    }, 200);

    // --- Typing: "Alice is typing…" for 5 s after each signal.
    var typers = {};
    function renderTyping() {
      if (!typingBox) return;
      var names = Object.keys(typers).map(function (key) { return typers[key].name; });
      if (!names.length) {
        typingBox.hidden = true;
        typingBox.textContent = "";
        return;
      }
      if (names.length === 1) typingBox.textContent = names[0] + " is typing…";
      else if (names.length === 2) typingBox.textContent = names[0] + " and " + names[1] + " are typing…";
      else typingBox.textContent = "Several people are typing…";
      typingBox.hidden = false;
    }
    function stopTyping(userId) {
      if (!typers[userId]) return;
      clearTimeout(typers[userId].timer);
      delete typers[userId];
      renderTyping();
    }

    // --- Live events for this conversation.
    function ours(data) { return data && parseInt(data.conversation, 10) === conversationId; }
    onLive(["message.new"], function (data) {
      if (!ours(data)) return;
      if (data.sender && data.sender.id) stopTyping(data.sender.id);
      if (data.id && document.getElementById("m-" + data.id)) return; // already shown (our own send)
      catchUp();
    });
    onLive(["message.updated"], function (data) {
      if (ours(data) && data.id) refreshOne(parseInt(data.id, 10));
    });
    onLive(["message.read"], function (data) {
      if (ours(data) && parseInt(data.user, 10) !== me) refreshReceipts();
    });
    onLive(["typing"], function (data) {
      if (!ours(data) || parseInt(data.user, 10) === me) return;
      var key = String(data.user);
      if (typers[key]) clearTimeout(typers[key].timer);
      typers[key] = {
        name: data.name || data.handle || "Someone",
        timer: setTimeout(function () { stopTyping(key); }, TYPING_SHOW_FOR),
      };
      renderTyping();
    });
    onLive(["conversation.updated"], function (data) {
      if (ours(data)) refreshHeader();
    });
    document.addEventListener("live:connected", catchUp);
    window.addEventListener("online", catchUp);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") {
        catchUp();
        markRead();
      }
    });

    // --- Clicks inside the thread: reply, quote, edit, delete, reactions, load earlier.
    var composer = document.getElementById("composer");
    var textarea = document.getElementById("composer-body");
    var replyInput = document.getElementById("id_reply_to");
    var replyBox = document.getElementById("composer-reply");

    function setReply(id, name, text) {
      if (!replyInput || !replyBox) return;
      replyInput.value = id ? String(id) : "";
      document.getElementById("composer-reply-name").textContent = name || "";
      document.getElementById("composer-reply-text").textContent = text || "";
      replyBox.hidden = !id;
      if (id && textarea) textarea.focus();
    }

    function highlight(li) {
      li.classList.add("is-highlighted");
      setTimeout(function () { li.classList.remove("is-highlighted"); }, 1600);
    }

    root.addEventListener("click", function (event) {
      var target = event.target.closest("a, button");
      if (!target || !root.contains(target)) return;
      if (target.classList.contains("msg-reply")) {
        event.preventDefault();
        setReply(target.dataset.reply, target.dataset.replyName, target.dataset.replyText);
      } else if (target.id === "composer-reply-cancel") {
        event.preventDefault();
        setReply(null);
      } else if (target.classList.contains("msg-quote")) {
        var quoted = document.getElementById("m-" + target.dataset.quote);
        if (quoted) {
          event.preventDefault();
          quoted.scrollIntoView({ behavior: "smooth", block: "center" });
          highlight(quoted);
        }
      } else if (target.classList.contains("msg-edit")) {
        event.preventDefault();
        openEditor(target);
      } else if (target.classList.contains("msg-edit-cancel")) {
        event.preventDefault();
        var editing = target.closest("li.msg");
        if (editing) refreshOne(idOf(editing));
      } else if (target.classList.contains("msg-delete")) {
        event.preventDefault();
        if (!window.confirm("Delete this message for everyone?")) return;
        var li = target.closest("li.msg");
        request(target.dataset.action, { method: "POST", body: new FormData() })
          .then(function (response) {
            if (response.ok) return response.text().then(function (html) { insert(toFragment(html)); });
            return errorText(response).then(function (text) { window.alert(text); });
          })
          .catch(function () { if (li) window.alert("Not deleted: check your connection and try again."); });
      } else if (target.id === "load-earlier") {
        event.preventDefault();
        loadEarlier(target);
      }
    });

    function openEditor(link) {
      var li = link.closest("li.msg");
      if (!li || li.querySelector(".msg-edit-form")) return;
      request(link.getAttribute("href") + "?partial=1")
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var form = toFragment(html).querySelector("form");
          var bubble = li.querySelector(".msg-bubble");
          if (!form || !bubble) return;
          bubble.replaceWith(form);
          var area = form.querySelector("textarea");
          if (area) {
            area.focus();
            area.setSelectionRange(area.value.length, area.value.length);
          }
        })
        .catch(warn);
    }

    function loadEarlier(link) {
      var before = firstId();
      if (!before) return;
      var height = document.documentElement.scrollHeight;
      request(fragmentUrl + "?before=" + before)
        .then(function (response) {
          if (!response.ok) throw new Error("load earlier answered " + response.status);
          var more = response.headers.get("X-Has-More") === "1";
          return response.text().then(function (html) {
            insert(toFragment(html));
            window.scrollBy(0, document.documentElement.scrollHeight - height);
            if (more) link.dataset.before = String(firstId());
            else link.closest(".thread-older").remove();
          });
        })
        .catch(warn);
    }

    // Reactions and edits are forms: send them with fetch and swap in the message the server renders.
    root.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList.contains("msg-react-form") && !form.classList.contains("msg-edit-form")) return;
      event.preventDefault();
      var data = new FormData(form);
      if (event.submitter && event.submitter.name) data.append(event.submitter.name, event.submitter.value);
      request(form.getAttribute("action"), { method: "POST", body: data })
        .then(function (response) {
          if (response.ok) return response.text().then(function (html) { insert(toFragment(html)); });
          return errorText(response).then(function (text) { window.alert(text); });
        })
        .catch(warn);
    });

    // --- The composer.
    if (composer && textarea) {
      var sendButton = document.getElementById("composer-send");
      var files = document.getElementById("composer-files");
      var fileNames = document.getElementById("composer-file-names");
      var errorBox = document.getElementById("composer-error");
      var counter = document.getElementById("composer-count");
      var max = parseInt((counter && counter.dataset.max) || "10000", 10);
      var sending = false;
      var lastTypingSent = 0;

      var updateCount = function () {
        var n = textarea.value.length;
        if (counter) {
          counter.textContent = n.toLocaleString() + " / " + max.toLocaleString();
          counter.classList.toggle("is-near", n > max * 0.9 && n <= max);
          counter.classList.toggle("is-over", n > max);
        }
        textarea.style.height = "auto";
        textarea.style.height = Math.min(textarea.scrollHeight + 2, window.innerHeight * 0.4) + "px";
      };
      var showError = function (text) {
        if (!errorBox) return;
        errorBox.textContent = text || "";
        errorBox.hidden = !text;
      };

      textarea.addEventListener("input", function () {
        updateCount();
        var now = Date.now();
        if (textarea.value.trim() && window.Live && now - lastTypingSent >= TYPING_SEND_EVERY) {
          lastTypingSent = now;
          window.Live.send({ type: "typing", conversation: conversationId });
        }
      });
      textarea.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey || event.isComposing) return;
        event.preventDefault();
        send();
      });
      if (files && fileNames) {
        files.addEventListener("change", function () {
          fileNames.textContent = Array.prototype.map.call(files.files, function (f) { return f.name; }).join(", ");
        });
      }
      composer.addEventListener("submit", function (event) {
        event.preventDefault();
        send();
      });

      var send = function () {
        if (sending || closed) return;
        var hasFiles = files && files.files && files.files.length > 0;
        if (!textarea.value.trim() && !hasFiles) return;
        if (textarea.value.length > max) {
          showError("A message has at most " + max.toLocaleString() + " characters.");
          return;
        }
        sending = true;
        if (sendButton) sendButton.disabled = true;
        request(composer.getAttribute("action"), { method: "POST", body: new FormData(composer) })
          .then(function (response) {
            if (response.ok) {
              return response.text().then(function (html) {
                textarea.value = "";
                lastTypingSent = 0; // the next message's first keystroke says "typing" at once
                if (files) files.value = "";
                if (fileNames) fileNames.textContent = "";
                setReply(null);
                showError("");
                updateCount();
                insert(toFragment(html));
                lastReadSent = Math.max(lastReadSent, lastId());
                scrollToBottom();
              });
            }
            if (response.status === 404) gone();
            return errorText(response).then(showError);
          })
          .catch(function () { showError("Not sent: check your connection and try again."); })
          .then(function () {
            sending = false;
            if (sendButton) sendButton.disabled = false;
            if (!closed) textarea.focus();
          });
      };
      updateCount();
    }

    // --- Start: at the bottom (unless a link points at a message), receipts in place, read.
    if (!location.hash && !history) scrollToBottom();
    else if (location.hash && /^#m-\d+$/.test(location.hash)) {
      var linked = document.getElementById(location.hash.slice(1));
      if (linked) highlight(linked);
    }
    placeReceipt();
    markRead();
    root.dataset.ready = "1"; // read by the browser tests
  }

  function init() {
    setupBadge();
    var inbox = document.getElementById("inbox");
    if (inbox) setupInbox(inbox);
    var conversation = document.getElementById("conversation");
    if (conversation) setupConversation(conversation);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
