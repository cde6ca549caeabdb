/*
 * follow.js: follow buttons (templates/accounts/_follow_button.html) act without a reload.
 *
 * A button is [data-follow-button] with data-handle, data-state (follow, following, requested,
 * blocked) and data-api-url (/api/v1/users/<handle>/); it holds one plain POST form per state
 * ([data-follow-action] follow, unfollow, cancel, unblock) and shows only the current one.
 * Submitting a form here calls the API instead:
 *
 *   follow   -> POST   <api>follow/   answers the profile with status "following" or "requested"
 *   unfollow -> DELETE <api>follow/   (204), then GET <api> for the fresh profile
 *   cancel   -> DELETE <api>follow/   (also withdraws a pending request)
 *   unblock  -> DELETE <api>block/
 *
 * and then shows the state the server answered on every button for that person, and writes
 * followers_count into every [data-follower-count="<handle>"] element. Nothing is built from
 * the answer but text. If the API cannot be reached, the form is submitted normally.
 */
(function () {
  "use strict";

  if (window.FollowButtons) return; // included twice: run once
  window.FollowButtons = {};

  var REQUESTS = {
    follow: ["POST", "follow/"],
    unfollow: ["DELETE", "follow/"],
    cancel: ["DELETE", "follow/"],
    unblock: ["DELETE", "block/"],
  };
  var FORM_FOR_STATE = { follow: "follow", following: "unfollow", requested: "cancel", blocked: "unblock" };
  var SAID = {
    follow: "You unfollowed @{handle}.",
    following: "You follow @{handle} now.",
    requested: "Follow request sent to @{handle}.",
  };

  function csrfToken(form) {
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && input.value) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function stateOf(profile) {
    if (profile.blocked) return "blocked";
    if (profile.is_following) return "following";
    if (profile.requested) return "requested";
    return "follow";
  }

  function show(handle, state, message) {
    each("[data-follow-button]", function (box) {
      if (box.dataset.handle !== handle) return;
      box.dataset.state = state;
      Array.prototype.forEach.call(box.querySelectorAll("form[data-follow-action]"), function (form) {
        form.hidden = form.dataset.followAction !== FORM_FOR_STATE[state];
        var button = form.querySelector("button");
        if (button) button.disabled = false;
      });
      var status = box.querySelector("[data-follow-status]");
      if (status) status.textContent = message || "";
    });
  }

  function setCount(handle, count) {
    if (typeof count !== "number") return;
    each("[data-follower-count]", function (element) {
      if (element.dataset.followerCount === handle) element.textContent = String(count);
      // ...and the word after it ("1 follower", "2 followers"): the text node that follows the number.
      var word = element.nextSibling;
      if (element.dataset.followerCount === handle && word && word.nodeType === 3 && /\bfollowers?\b/.test(word.nodeValue)) {
        word.nodeValue = word.nodeValue.replace(/\bfollowers?\b/, count === 1 ? "follower" : "followers");
      }
    });
  }

  function call(method, url, form) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
    });
  }

  function errorText(response) {
    return response
      .json()
      .then(function (body) {
        return (body && body.error && body.error.message) || "That did not work; try again.";
      })
      .catch(function () {
        return "That did not work; try again.";
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-follow-button] form[data-follow-action]")) return;
    var box = form.closest("[data-follow-button]");
    var plan = REQUESTS[form.dataset.followAction];
    if (!box || !plan || !window.fetch) return; // the plain form does it
    event.preventDefault();
    var handle = box.dataset.handle;
    var api = box.dataset.apiUrl;
    var button = form.querySelector("button");
    if (button) button.disabled = true;

    call(plan[0], api + plan[1], form)
      .then(function (response) {
        if (response.status === 204) return call("GET", api, form);
        return response;
      })
      .then(function (response) {
        if (!response.ok) {
          return errorText(response).then(function (text) {
            show(handle, box.dataset.state, text);
          });
        }
        return response.json().then(function (profile) {
          var state = stateOf(profile);
          show(handle, state, (SAID[state] || "").replace("{handle}", handle));
          setCount(handle, profile.followers_count);
        });
      })
      .catch(function () {
        form.submit(); // no network answer: fall back to the plain POST
      });
  });
})();
