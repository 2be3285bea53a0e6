// The organiser's live dashboard: topic `session:S/unit:U` of the live hub (docs/PROTOCOL.md), through the
// shared client (live.js: ticket, hello, heartbeats, reconnect, resume with `since` + `epoch`). Snapshot,
// then changes merged into the rows held here. No framework, no page reloads. Every text from the data goes
// through textContent, never innerHTML (dom.js).
import { config, el, fill, fold, formats, setText } from "./dom.js";
import { Hub, State } from "./live.js";

const cfg = config("dashboard-config");
const L = cfg.labels;
const RECENT_MAX = 30;
const CHART_MINUTES = 120;
const CHART_MIN_MINUTES = 30;

// -- formatting -----------------------------------------------------------------------------------
const { int, pct, hhmm, hhmmss, dateTime } = formats(cfg.lang, cfg.zone);
function minuteDate(key) { return new Date(key + ":00Z"); } // the hub's minute keys are UTC
function minuteKey(date) { return date.toISOString().slice(0, 16); }

// -- the page's parts ----------------------------------------------------------------------------
const statusNode = document.getElementById("live-status");
const updatedNode = document.getElementById("live-updated");
const errorNode = document.getElementById("dash-error");
const crumbsNode = document.getElementById("unit-crumbs");
const unitsSection = document.getElementById("units-section");
const unitsBody = document.querySelector("#units tbody");
const hallsTable = document.getElementById("halls");
const hallsBody = hallsTable.querySelector("tbody");
const hallsEmpty = document.getElementById("halls-empty");
const hallCount = document.getElementById("hall-count");
const offlineChip = document.getElementById("offline-chip");
const searchInput = document.getElementById("hall-search");
const levelSelect = document.getElementById("hall-level");
const connectionSelect = document.getElementById("hall-connection");
const sourceSelect = document.getElementById("hall-source");
const feed = document.getElementById("recent");
const feedEmpty = document.getElementById("recent-empty");
const canvas = document.getElementById("rate-chart");
const rateEmpty = document.getElementById("rate-empty");
const titleHead = document.title.split(" · ")[0];

function setStatus(kind) {
  statusNode.className = "live-status " + kind;
  statusNode.querySelector(".text").textContent =
    { connecting: L.dash_connecting, live: L.dash_live, lost: L.dash_lost, failed: L.dash_failed }[kind];
}
function showError(text) { setText(errorNode, text); }
function refused(m) { showError(m.code === "forbidden" ? L.dash_forbidden : L.dash_not_found); }

// -- state ---------------------------------------------------------------------------------------
let unitId = cfg.unit_id;
let path = cfg.path.slice();
let data = null;

function topicFor(unit) { return "session:" + cfg.session_id + "/unit:" + unit; }

function emptyData() {
  return { totals: null, halls: {}, units: {}, rate: {}, recent: [], unit: null, session: null };
}

function applyData(d, whole) {
  if (whole) data = emptyData();
  if (d.session) data.session = d.session;
  if (d.unit) data.unit = Object.assign(data.unit || {}, d.unit); // a change: the unit's changed fields
  if (d.totals) data.totals = d.totals;
  const changedHalls = [];
  if (d.halls) {
    // a change carries only the fields of a row that changed: merge them into the row
    Object.keys(d.halls).forEach(function (id) { data.halls[id] = Object.assign(data.halls[id] || {}, d.halls[id]); changedHalls.push(id); });
  }
  if (d.units) Object.keys(d.units).forEach(function (id) { data.units[id] = Object.assign(data.units[id] || {}, d.units[id]); });
  if (d.rate) Object.keys(d.rate).forEach(function (m) { data.rate[m] = d.rate[m]; });
  if (d.recent && d.recent.length) data.recent = d.recent.concat(whole ? [] : data.recent).slice(0, RECENT_MAX);
  render(d, whole, changedHalls);
}

// -- rendering -----------------------------------------------------------------------------------
function render(d, whole, changedHalls) {
  if (d.totals || whole) renderTotals();
  if (d.unit) renderUnitName();
  if (d.units || whole) renderUnits();
  if (whole) rebuildHalls(); else if (changedHalls.length) updateHalls(changedHalls);
  if (d.recent || whole) renderFeed(whole ? data.recent : d.recent, whole);
  if (d.rate || whole) scheduleChart();
  updatedNode.textContent = fill(L.dash_updated, { time: hhmmss() });
}

function setTotal(key, text) {
  document.querySelectorAll('[data-total="' + key + '"]').forEach(function (n) { n.textContent = text; });
}
function renderTotals() {
  const t = data.totals;
  if (!t) return;
  ["expected", "in_person", "online", "absent_excused", "absent_unexcused", "viewers"].forEach(function (k) {
    setTotal(k, int(t[k]));
  });
  setTotal("percent", pct(t.percent));
  setTotal("halls_online", int(t.halls_online) + "/" + int(t.halls));
  setTotal("reported_note", t.reported_present ? fill(L.dash_reported_note, { n: int(t.reported_present) }) : "");
  const bar = document.querySelector('[data-total="percent_bar"]');
  if (bar) bar.style.width = Math.max(0, Math.min(100, Number(t.percent) || 0)) + "%";
}

function renderUnitName() {
  const current = path[path.length - 1];
  if (current && current.id === data.unit.id && current.name !== data.unit.name) {
    current.name = data.unit.name;
    renderCrumbs();
  }
  document.title = titleHead + " · " + data.unit.name + " · hoinghi";
}

function renderCrumbs() {
  crumbsNode.textContent = "";
  path.forEach(function (u, i) {
    if (i === path.length - 1) {
      const strong = el("strong", "", u.name);
      strong.setAttribute("aria-current", "page");
      crumbsNode.appendChild(strong);
      return;
    }
    const a = el("a", "", u.name);
    a.href = "?unit=" + u.id;
    a.dataset.unit = String(u.id);
    crumbsNode.appendChild(a);
    const s = el("span", "sep", "›");
    s.setAttribute("aria-hidden", "true");
    crumbsNode.appendChild(s);
  });
}

function meter(percent) {
  const cell = el("td", "pct");
  const wrap = el("span", "cell-meter");
  const bar = el("span");
  bar.style.width = Math.max(0, Math.min(100, Number(percent) || 0)) + "%";
  wrap.appendChild(bar);
  cell.appendChild(wrap);
  cell.appendChild(el("span", "pct-text", pct(percent)));
  return cell;
}

function renderUnits() {
  const rows = Object.keys(data.units).map(function (id) { return data.units[id]; });
  unitsSection.hidden = rows.length === 0;
  unitsBody.textContent = "";
  rows.forEach(function (u) {
    const tr = el("tr");
    tr.dataset.unit = String(u.id);
    const name = el("td");
    const a = el("a", "drill", u.name);
    a.href = "?unit=" + u.id;
    a.dataset.unit = String(u.id);
    a.title = fill(L.dash_drill, { name: u.name });
    name.appendChild(a);
    tr.appendChild(name);
    ["expected", "in_person", "online", "absent_excused", "absent_unexcused"].forEach(function (k) {
      tr.appendChild(el("td", "num", int(u[k])));
    });
    tr.appendChild(meter(u.percent));
    unitsBody.appendChild(tr);
  });
}

// The hall table: one cached <tr> per hall, updated in place; order and filters reapplied after.
const hallRows = new Map(); // id -> {tr, folded}
let shownOrder = [];
let sortKey = "level";
let sortDir = 1;

function connectionBadge(h) {
  const badge = el("span", "badge " + h.connection, L.connections[h.connection] || h.connection);
  badge.title = h.last_seen ? fill(L.dash_last_seen, { time: dateTime(h.last_seen) }) : L.dash_never_seen;
  return badge;
}

function fillHallRow(tr, h) {
  tr.textContent = "";
  tr.className = h.connection === "offline" ? "offline" : "";
  const name = el("td", "hall-name");
  const a = el("a", "", h.name);
  a.href = "/halls/" + h.id + "/sessions/" + cfg.session_id;
  name.appendChild(a);
  if (h.connection === "offline") name.appendChild(el("span", "badge offline flag", L.connections.offline));
  tr.appendChild(name);
  const level = el("td", "lvl", L.levels_short[String(h.level)] || String(h.level));
  level.title = L.levels[String(h.level)] || "";
  tr.appendChild(level);
  tr.appendChild(el("td", "nowrap", L.channels[h.channel] || h.channel));
  ["expected", "in_person", "online", "absent_excused", "absent_unexcused"].forEach(function (k) {
    tr.appendChild(el("td", "num", int(h[k])));
  });
  tr.appendChild(meter(h.percent));
  const source = el("td", "nowrap");
  source.appendChild(el("span", "source " + h.source, h.source === "reported" ? L.dash_source_reported : L.dash_source_counted));
  tr.appendChild(source);
  const conn = el("td");
  conn.appendChild(connectionBadge(h));
  tr.appendChild(conn);
}

function rebuildHalls() {
  hallRows.clear();
  shownOrder = [];
  hallsBody.textContent = "";
  Object.keys(data.halls).forEach(function (id) { upsertHall(id, false); });
  refreshLevels();
  reorder();
}

function upsertHall(id, flash) {
  const h = data.halls[id];
  let entry = hallRows.get(id);
  if (!entry) {
    const tr = el("tr");
    tr.dataset.hall = id;
    entry = { tr: tr, folded: "" };
    hallRows.set(id, entry);
  }
  entry.folded = fold(h.name);
  fillHallRow(entry.tr, h);
  if (flash) {
    entry.tr.classList.add("updated");
    setTimeout(function () { entry.tr.classList.remove("updated"); }, 1600);
  }
}

function updateHalls(ids) {
  ids.forEach(function (id) { upsertHall(id, true); });
  refreshLevels();
  scheduleReorder();
}

function refreshLevels() {
  const levels = new Set(Object.keys(data.halls).map(function (id) { return String(data.halls[id].level); }));
  const have = new Set(Array.from(levelSelect.options).map(function (o) { return o.value; }).filter(Boolean));
  Array.from(levels).sort().forEach(function (lv) {
    if (!have.has(lv)) levelSelect.appendChild(new Option(L.levels[lv] || lv, lv));
  });
}

function compare(a, b) {
  const ha = data.halls[a], hb = data.halls[b];
  let x = ha[sortKey], y = hb[sortKey];
  if (sortKey === "channel") { x = L.channels[x] || x; y = L.channels[y] || y; }
  if (sortKey === "connection") {
    const rank = { offline: 0, unknown: 1, online: 2 };
    x = rank[x]; y = rank[y];
  }
  let c;
  if (typeof x === "string" || typeof y === "string") c = String(x).localeCompare(String(y), "vi");
  else c = (x || 0) - (y || 0);
  return c * sortDir || Number(a) - Number(b); // ties keep the creation order
}

function matches(id, q) {
  const h = data.halls[id];
  if (q && hallRows.get(id).folded.indexOf(q) < 0) return false;
  if (levelSelect.value !== "" && String(h.level) !== levelSelect.value) return false;
  if (connectionSelect.value && h.connection !== connectionSelect.value) return false;
  if (sourceSelect.value && h.source !== sourceSelect.value) return false;
  return true;
}

let reorderPending = false;
function scheduleReorder() {
  if (reorderPending) return;
  reorderPending = true;
  requestAnimationFrame(function () { reorderPending = false; reorder(); });
}

function reorder() {
  if (!data) return;
  const all = Object.keys(data.halls);
  const q = fold(searchInput.value.trim());
  const order = all.filter(function (id) { return matches(id, q); }).sort(compare);
  const same = order.length === shownOrder.length && order.every(function (id, i) { return id === shownOrder[i]; });
  if (!same) {
    const frag = document.createDocumentFragment();
    order.forEach(function (id) { frag.appendChild(hallRows.get(id).tr); });
    hallsBody.textContent = "";
    hallsBody.appendChild(frag);
    shownOrder = order;
  }
  hallsEmpty.hidden = order.length > 0 || all.length === 0;
  hallCount.textContent = fill(L.dash_shown, { shown: int(order.length), total: int(all.length) });
  const offline = all.filter(function (id) { return data.halls[id].connection === "offline"; }).length;
  offlineChip.hidden = offline === 0;
  offlineChip.textContent = fill(L.dash_offline_count, { n: int(offline) });
}

hallsTable.querySelectorAll("th[data-sort]").forEach(function (th) {
  th.querySelector("button").addEventListener("click", function () {
    const key = th.dataset.sort;
    if (sortKey === key) sortDir = -sortDir;
    else { sortKey = key; sortDir = th.classList.contains("num") || th.classList.contains("pct") ? -1 : 1; }
    hallsTable.querySelectorAll("th[data-sort]").forEach(function (other) {
      other.setAttribute("aria-sort", other === th ? (sortDir > 0 ? "ascending" : "descending") : "none");
    });
    shownOrder = [];
    reorder();
  });
});
[levelSelect, connectionSelect, sourceSelect].forEach(function (s) { s.addEventListener("change", reorder); });
searchInput.addEventListener("input", reorder);
offlineChip.addEventListener("click", function () {
  connectionSelect.value = connectionSelect.value === "offline" ? "" : "offline";
  reorder();
});

// The feed of recent check-ins, newest first.
function feedItem(r) {
  const li = el("li");
  const at = new Date(r.at);
  const time = el("time", "", hhmm(at));
  time.dateTime = r.at;
  li.appendChild(time);
  const who = el("span", "who");
  who.appendChild(el("strong", "name", r.name));
  who.appendChild(el("span", "hall", r.hall));
  li.appendChild(who);
  li.appendChild(el("span", "badge method " + r.method, L.methods[r.method] || r.method));
  return li;
}
function renderFeed(items, whole) {
  if (whole) feed.textContent = "";
  const frag = document.createDocumentFragment();
  items.forEach(function (r) { frag.appendChild(feedItem(r)); });
  feed.insertBefore(frag, feed.firstChild);
  while (feed.children.length > RECENT_MAX) feed.removeChild(feed.lastChild);
  feedEmpty.hidden = feed.children.length > 0;
}

// The check-in rate chart: one bar per minute, gaps filled with zeros, the last two hours at most.
let chart = null;
let chartPending = false;
function scheduleChart() {
  if (chartPending) return;
  chartPending = true;
  setTimeout(function () { chartPending = false; drawChart(); }, 200);
}
function chartSeries() {
  const keys = Object.keys(data ? data.rate : {}).sort();
  if (!keys.length) return { labels: [], values: [], total: 0 };
  const now = minuteKey(new Date());
  const last = keys[keys.length - 1] > now ? keys[keys.length - 1] : now;
  let start = minuteDate(keys[0]).getTime();
  const end = minuteDate(last).getTime();
  start = Math.max(Math.min(start, end - (CHART_MIN_MINUTES - 1) * 60000), end - (CHART_MINUTES - 1) * 60000);
  const labels = [], values = [];
  let total = 0;
  for (let t = start; t <= end; t += 60000) {
    const d = new Date(t);
    const v = data.rate[minuteKey(d)] || 0;
    labels.push(hhmm(d));
    values.push(v);
    total += v;
  }
  return { labels: labels, values: values, total: total };
}
function drawChart() {
  const s = chartSeries();
  canvas.dataset.minutes = String(s.labels.length);
  canvas.dataset.checkins = String(s.total);
  rateEmpty.hidden = s.labels.length > 0;
  if (!window.Chart) return;
  if (!chart) {
    chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: s.labels, datasets: [{ label: L.dash_rate_series, data: s.values, backgroundColor: "#1f6fb2",
                                             hoverBackgroundColor: "#0b4f9c", borderRadius: 2, maxBarThickness: 18 }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: { duration: 250 },
        plugins: { legend: { display: false },
                   tooltip: { callbacks: { label: function (c) { return L.dash_rate_series + ": " + int(c.parsed.y); } } } },
        scales: {
          x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } },
          y: { beginAtZero: true, ticks: { precision: 0, callback: function (v) { return int(v); } } },
        },
      },
    });
  } else {
    chart.data.labels = s.labels;
    chart.data.datasets[0].data = s.values;
    chart.update();
  }
}
setInterval(function () { if (data) drawChart(); }, 30000); // the time axis moves on with the clock

// -- the connection ------------------------------------------------------------------------------
const hub = new Hub({
  onState: function (state, h) {
    if (state === State.OPEN) setStatus("live");
    else if (state === State.FAILED) setStatus("failed");
    else if (state !== State.STOPPED) setStatus(state === State.CONNECTING && h.attempt === 0 ? "connecting" : "lost");
  },
  onMessage: function (m) { if (m.type === "error") refused(m); },
});
let subscription = null;
const handlers = {
  snapshot: function (d) { showError(""); applyData(d, true); },
  change: function (d) { applyData(d, false); },
  error: refused,
};

// -- drilling down the unit tree without reloading -------------------------------------------------
function open(unit, newPath) {
  if (subscription) subscription.unsubscribe();
  unitId = unit;
  path = newPath;
  data = null;
  showError("");
  renderCrumbs();
  unitsSection.hidden = true;
  unitsBody.textContent = "";
  hallRows.clear();
  shownOrder = [];
  hallsBody.textContent = "";
  hallCount.textContent = L.dash_loading;
  feed.textContent = "";
  document.querySelectorAll(".tiles .value").forEach(function (n) { n.textContent = "—"; });
  setTotal("reported_note", "");
  if (chart) { chart.data.labels = []; chart.data.datasets[0].data = []; chart.update(); }
  subscription = hub.subscribe(topicFor(unit), handlers);
}

document.addEventListener("click", function (event) {
  const link = event.target.closest ? event.target.closest("a[data-unit]") : null;
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  const target = Number(link.dataset.unit);
  if (target === unitId) return;
  const at = path.findIndex(function (u) { return u.id === target; });
  let next;
  if (at >= 0) next = path.slice(0, at + 1);
  else next = path.concat([{ id: target, name: data && data.units[String(target)] ? data.units[String(target)].name : link.textContent }]);
  history.pushState({ unit: target, path: next }, "", "?unit=" + target);
  open(target, next);
});
window.addEventListener("popstate", function (event) {
  if (event.state && event.state.unit) open(event.state.unit, event.state.path);
  else window.location.reload();
});

history.replaceState({ unit: unitId, path: path }, "", window.location.href);
open(unitId, path);
hallCount.textContent = L.dash_loading;
hub.start();

