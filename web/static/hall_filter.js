// The conference page's halls (a province: 120 and more) filtered as one types: by hall or unit name
// (accents optional, as the server's search), connection status and channel. Rows are only hidden.
import { $, fill, fold } from "./dom.js";

const form = $("hall-filter");
const rows = Array.from(document.querySelectorAll("#halls tbody tr"));
const keys = rows.map(function (row) { return fold(row.dataset.find || ""); });

function apply() {
  const words = fold($("hall-filter-text").value).split(/\s+/).filter(Boolean);
  const status = $("hall-filter-status").value;
  const channel = $("hall-filter-channel").value;
  let shown = 0;
  rows.forEach(function (row, i) {
    const ok = words.every(function (w) { return keys[i].indexOf(w) >= 0; })
      && (!status || row.dataset.status === status) && (!channel || row.dataset.channel === channel);
    row.hidden = !ok;
    if (ok) shown += 1;
  });
  const count = $("hall-filter-count");
  count.textContent = fill(count.dataset.template, { shown: shown, total: rows.length });
}

if (form) {
  form.addEventListener("input", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  apply();
}
