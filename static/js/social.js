/*
 * social.js: the timeline, post cards and the compose box. Every page works without it;
 * this only makes them nicer:
 *
 * - compose: a live 280 counter (code points, as the server counts), Ctrl/⌘+Enter to post,
 *   the teaser field shown only for "Subscribers only", chosen image names, at most 4 images;
 * - like / repost buttons: fetch instead of a page load, with the count updated at once
 *   (optimistically) and put back if the server refuses;
 * - the home timeline's first page: a "Show N new posts" bar fed by live.js
 *   ("live:post.new"), and after a (re)connect a catch-up count from the API.
 */
(function () {
  "use strict";

  var body = document.body;

  function csrfToken(form) {
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function toast(text) {
    var box = document.getElementById("toasts");
    if (!box || !text) return;
    var item = document.createElement("div");
    item.className = "toast";
    item.setAttribute("role", "status");
    item.textContent = text;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 5000);
  }

  function plural(n, one, many) { return n === 1 ? one : many; }

  // ---- compose --------------------------------------------------------------------------
  function initComposer(form) {
    var textarea = form.querySelector("textarea[name=text]");
    if (!textarea) return;
    var max = parseInt(textarea.dataset.max || "280", 10);
    var counter = form.querySelector("[data-char-count]");
    var submit = form.querySelector("button[type=submit]");

    function update() {
      var used = Array.from(textarea.value).length; // code points, like Python's len()
      var left = max - used;
      if (counter) {
        counter.textContent = String(left);
        counter.classList.toggle("is-near", left <= 20 && left >= 0);
        counter.classList.toggle("is-over", left < 0);
        counter.setAttribute("aria-label", left < 0 ? (-left) + " characters too many" : left + " characters left");
      }
      if (submit) submit.disabled = used === 0 || left < 0 || !textarea.value.trim();
      textarea.setAttribute("aria-invalid", left < 0 ? "true" : "false");
    }
    textarea.addEventListener("input", update);
    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && submit && !submit.disabled) {
        event.preventDefault();
        form.requestSubmit ? form.requestSubmit(submit) : form.submit();
      }
    });
    update();

    // Audience: the teaser only matters for subscribers-only posts.
    var audience = form.querySelector("select[name=audience]");
    var teaser = form.querySelector("[data-teaser-field]");
    if (audience && teaser) {
      var syncTeaser = function () { teaser.hidden = audience.value !== "subscribers"; };
      audience.addEventListener("change", syncTeaser);
      syncTeaser();
    }

    // Images: show what was chosen; more than the limit is refused here (and by the server).
    var files = form.querySelector("input[type=file][name=images]");
    var names = form.querySelector("[data-image-names]");
    if (files) {
      var limit = parseInt(files.dataset.max || "4", 10);
      files.addEventListener("change", function () {
        var chosen = Array.from(files.files || []);
        if (chosen.length > limit) {
          files.value = "";
          chosen = [];
          toast("Up to " + limit + " images per post.");
        }
        if (names) names.textContent = chosen.map(function (f) { return f.name; }).join(", ");
      });
    }

    form.addEventListener("submit", function () {
      if (submit) setTimeout(function () { submit.disabled = true; }, 0); // one post per click
    });
  }
  document.querySelectorAll("form[data-composer]").forEach(initComposer);

  // ---- like / repost --------------------------------------------------------------------
  // <form data-toggle="like" data-on="1|0" data-url-on=… data-url-off=… data-api=…>
  //   <button class="post-action"><svg/><span data-count>3</span></button></form>
  // "url-on" is the page that turns it on (like), "url-off" the one that turns it off.
  var LABELS = {
    like: { on: "Unlike", off: "Like", noun: ["like", "likes"] },
    repost: { on: "Undo repost", off: "Repost", noun: ["repost", "reposts"] },
  };

  function setToggle(form, on, count) {
    var kind = form.dataset.toggle;
    var labels = LABELS[kind];
    var button = form.querySelector("button");
    var counter = form.querySelector("[data-count]");
    form.dataset.on = on ? "1" : "0";
    form.action = on ? form.dataset.urlOff : form.dataset.urlOn;
    button.classList.toggle("is-on", on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
    if (typeof count === "number" && count >= 0) {
      form.dataset.count = String(count);
      if (counter) counter.textContent = count > 0 ? String(count) : "";
    }
    var n = parseInt(form.dataset.count || "0", 10) || 0;
    button.setAttribute(
      "aria-label",
      (on ? labels.on : labels.off) + " (" + n + " " + plural(n, labels.noun[0], labels.noun[1]) + ")"
    );
    button.title = on ? labels.on : labels.off;
  }

  function sameCards(form) {
    // The same post may be on the page twice (a post and a repost of it): keep them in step.
    var id = form.dataset.postId;
    return Array.from(document.querySelectorAll('form[data-toggle="' + form.dataset.toggle + '"][data-post-id="' + id + '"]'));
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.toggle || !LABELS[form.dataset.toggle]) return;
    if (!window.fetch) return; // the ordinary POST still works
    event.preventDefault();
    if (form.dataset.busy === "1") return;
    var wasOn = form.dataset.on === "1";
    var before = parseInt(form.dataset.count || "0", 10) || 0;
    var after = Math.max(0, before + (wasOn ? -1 : 1));
    var forms = sameCards(form);
    var url = wasOn ? form.dataset.urlOff : form.dataset.urlOn;
    forms.forEach(function (f) { f.dataset.busy = "1"; setToggle(f, !wasOn, after); });

    // The API (POST = on, DELETE = off) when the card names it; else the form's own page, as JSON.
    var request = form.dataset.api
      ? fetch(form.dataset.api, {
          method: wasOn ? "DELETE" : "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
        })
      : fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form), "X-Requested-With": "fetch" },
          body: new FormData(form),
        });
    request
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var error = data.error || {};
            throw new Error(error.message || data.detail || "That did not work. Try again.");
          }
          return data;
        });
      })
      .then(function (data) {
        var count = [data.count, data.like_count, data.repost_count].find(function (n) { return typeof n === "number"; });
        if (typeof count !== "number") count = after;
        var on = [data.on, data.liked, data.reposted].find(function (b) { return typeof b === "boolean"; });
        if (typeof on !== "boolean") on = !wasOn;
        forms.forEach(function (f) { setToggle(f, on, count); });
      })
      .catch(function (error) {
        forms.forEach(function (f) { setToggle(f, wasOn, before); });
        toast(error.message);
      })
      .finally(function () {
        forms.forEach(function (f) { delete f.dataset.busy; });
      });
  });

  // ---- the live "N new posts" bar (home timeline, first page only) ------------------------
  var timeline = document.querySelector("[data-timeline-live]");
  if (timeline && body && body.dataset.userId) {
    var bar = document.getElementById("new-posts-bar");
    var barLabel = bar && bar.querySelector("[data-new-posts-label]");
    var topId = parseInt(timeline.dataset.topId || "0", 10) || 0;
    var countUrl = timeline.dataset.newCountUrl;
    var fresh = new Set();
    var caughtUp = 0; // what the server counted at the last (re)connect

    var render = function () {
      if (!bar) return;
      var n = Math.max(fresh.size, caughtUp);
      bar.hidden = n === 0;
      bar.dataset.count = String(n);
      if (barLabel) barLabel.textContent = "Show " + n + " new " + plural(n, "post", "posts");
      var base = document.title.replace(/^\(\d+\+?\)\s*/, "");
      document.title = n ? "(" + (n > 99 ? "99+" : n) + ") " + base : base;
    };

    document.addEventListener("live:post.new", function (event) {
      var data = event.detail || {};
      var id = parseInt(data.id || data.post_id || "0", 10) || 0;
      if (!id || id <= topId || fresh.has(id)) return;
      fresh.add(id);
      render();
    });

    var catchUp = function () {
      if (!countUrl || !window.fetch) return;
      var url = countUrl + (countUrl.indexOf("?") === -1 ? "?" : "&") + "after=" + encodeURIComponent(topId);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) return;
          var n = typeof data.count === "number" ? data.count : data.new_count;
          if (typeof n === "number") { caughtUp = n; render(); }
        })
        .catch(function () { /* the socket stays the fast path */ });
    };
    document.addEventListener("live:connected", catchUp);

    if (bar) {
      bar.addEventListener("click", function (event) {
        var link = event.target.closest("a");
        if (!link) return;
        event.preventDefault();
        window.location.assign(link.href); // the first page again, newest first
      });
    }
    timeline.dataset.ready = "1";
  }
})();
