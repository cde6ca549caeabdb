/*
 * savings.js: the projection calculator, live as the person types.
 *
 * Mirrors savings.services.projection_compute (the server's answer on submit is the reference):
 * monthly factor (1 + APY)^(1/12) (daily compounding over 365/12 days), each month
 * balance = balance × factor + deposit, floored to minor units. Floats here are for the preview only.
 */
(function () {
  "use strict";

  var form = document.getElementById("projection-form");
  var out = document.getElementById("projection-result");
  if (!form || !out) return;
  var apy = parseFloat(form.dataset.apy);
  var places = parseInt(form.dataset.places, 10) || 0;
  var symbol = form.dataset.symbol || "";
  var scale = Math.pow(10, places);

  function minor(text) {
    var cleaned = (text || "").replace(/,/g, "").trim();
    if (cleaned === "") return 0;
    if (!/^\d+(\.\d+)?$/.test(cleaned)) return null;
    return Math.round(parseFloat(cleaned) * scale);
  }

  function fmt(value) {
    return symbol + (value / scale).toLocaleString(undefined, { minimumFractionDigits: places, maximumFractionDigits: places });
  }

  function update() {
    var amount = minor(form.elements.amount.value);
    var monthly = minor(form.elements.monthly.value);
    var months = parseInt(form.elements.months.value, 10);
    if (amount === null || monthly === null || !(months >= 1 && months <= 600) || isNaN(apy)) return;
    var factor = Math.pow(1 + apy, 1 / 12);
    var balance = amount;
    for (var i = 0; i < months; i++) balance = balance * factor + monthly;
    balance = Math.floor(balance);
    var deposits = amount + monthly * months;
    out.textContent = "";
    var p = document.createElement("p");
    p.append("In " + months + " month" + (months === 1 ? "" : "s") + ": ");
    var strong = document.createElement("strong");
    strong.dataset.testid = "projection-balance";
    strong.textContent = fmt(balance);
    p.append(strong);
    var note = document.createElement("p");
    note.className = "small muted";
    note.textContent = fmt(deposits) + " deposited + " + fmt(balance - deposits) + " interest (estimate).";
    out.append(p, note);
  }

  form.addEventListener("input", update);
})();
