/*
 * creators.js: small helpers for the creator pages (no markup is built from user data).
 *
 * - The revenue split form ([data-split-form]): shows the running total of the percentages
 *   ([data-split-total]) and whether it is exactly 100%, and reveals an "Add a co-author"
 *   button that adds an empty row (up to data-max rows). Without JavaScript the form still
 *   works: the server checks everything and shows two empty rows after each save.
 * - Buttons with [data-once] (the tip confirm) are disabled after the first submit, so a
 *   double click sends one request; the idempotency key makes a resubmit safe anyway.
 */
(function () {
  "use strict";

  function toHundredths(text) {
    var value = String(text || "").trim().replace(/%$/, "").trim();
    if (!value) return 0;
    if (!/^\d{1,3}(\.\d{1,2})?$/.test(value)) return NaN;
    var parts = value.split(".");
    var cents = parts[1] ? (parts[1] + "0").slice(0, 2) : "00";
    return parseInt(parts[0], 10) * 100 + parseInt(cents, 10);
  }

  function initSplit(form) {
    var output = form.querySelector("[data-split-total]");
    var addButton = form.querySelector("[data-split-add]");
    var max = parseInt(form.getAttribute("data-max") || "10", 10);
    var body = form.querySelector("tbody");

    function update() {
      var total = 0;
      var bad = false;
      form.querySelectorAll("[data-split-percent]").forEach(function (input) {
        var value = toHundredths(input.value);
        if (isNaN(value)) bad = true;
        else total += value;
      });
      if (!output) return;
      output.textContent = bad ? "?" : (total / 100).toFixed(2).replace(/\.00$/, "") + "%";
      output.classList.toggle("is-ok", !bad && total === 10000);
      output.classList.toggle("is-bad", bad || total !== 10000);
    }

    function rows() {
      return body ? body.querySelectorAll("[data-split-row]") : [];
    }

    if (addButton && body) {
      addButton.hidden = rows().length >= max;
      addButton.addEventListener("click", function () {
        var all = rows();
        if (all.length >= max) return;
        var template = all[all.length - 1];
        var row = template.cloneNode(true);
        var index = all.length + 1;
        row.querySelectorAll("input").forEach(function (input) {
          input.value = "";
          if (input.id) input.id = input.id.replace(/-\d+$/, "-" + index);
        });
        row.querySelectorAll("label").forEach(function (label) {
          var target = label.getAttribute("for");
          if (target) label.setAttribute("for", target.replace(/-\d+$/, "-" + index));
        });
        body.appendChild(row);
        addButton.hidden = rows().length >= max;
        var first = row.querySelector("input");
        if (first) first.focus();
        update();
      });
    }
    form.addEventListener("input", update);
    update();
  }

  function initOnce(button) {
    var form = button.form;
    if (!form) return;
    form.addEventListener("submit", function () {
      // After this tick, so the button's own name/value is still sent.
      window.setTimeout(function () {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      }, 0);
    });
  }

  function init() {
    document.querySelectorAll("[data-split-form]").forEach(initSplit);
    document.querySelectorAll("button[data-once]").forEach(initOnce);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
