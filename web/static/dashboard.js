// The organiser's live dashboard: one WebSocket to the live hub (docs/PROTOCOL.md), topic
// `session:S/unit:U`. Snapshot, then changes applied in `seq` order; a gap or a reconnect resumes
// with `since` + `epoch`. No framework, no page reloads. Every text from the data goes through
// textContent, never innerHTML.
(function () {
  "use strict";

  const configNode = document.getElementById("dashboard-config");
  if (!configNode) return;
  const cfg = JSON.parse(configNode.textContent);
  const L = cfg.labels;
  const RECENT_MAX = 30;
  const CHART_MINUTES = 120;
  const CHART_MIN_MINUTES = 30;
  const PING_MS = 15000;
  const FATAL_CLOSES = [4000, 4002, 4003];

  // -- formatting ---------------------------------------------------------------------------------
  const sep = cfg.lang === "vi" ? "." : ",";
  const decimal = cfg.lang === "vi" ? "," : ".";
  function int(n) {
    const v = Math.round(Number(n) || 0);
    const s = String(Math.abs(v)).replace(/\B(?=(\d{3})+(?!\d))/g, sep);
    return v < 0 ? "-" + s : s;
  }
  function pct(p) { return (Number(p) || 0).toFixed(1).replace(".", decimal) + "%"; }
  function fill(template, params) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return k in params ? String(params[k]) : m; });
  }
  const locale = cfg.lang === "vi" ? "vi-VN" : "en-GB";
  const hm = new Intl.DateTimeFormat(locale, { timeZone: cfg.zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const hms = new Intl.DateTimeFormat(locale, { timeZone: cfg.zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  const dmyParts = new Intl.DateTimeFormat("en-GB", { timeZone: cfg.zone, day: "2-digit", month: "2-digit", year: "numeric" });
  function hhmm(date) { return hm.format(date); }
  function fullDate(date) { return dmyParts.format(date) + " " + hm.format(date); } // dd/MM/yyyy HH:mm
  function minuteDate(key) { return new Date(key + ":00Z"); } // the hub's minute keys are UTC
  function minuteKey(date) { return date.toISOString().slice(0, 16); }
  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

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
  function showError(text) {
    errorNode.textContent = text || "";
    errorNode.hidden = !text;
  }

  // -- state ---------------------------------------------------------------------------------------
  let unitId = cfg.unit_id;
  let path = cfg.path.slice();
  let topic = "";
  let seq = null; // last seq applied for `topic`; null until its snapshot
  let epoch = null;
  let resuming = false; // a re-subscribe after a gap is under way
  let data = null;

  function topicFor(unit) { return "session:" + cfg.session_id + "/unit:" + unit; }

  function emptyData() {
    return { totals: null, halls: {}, units: {}, rate: {}, recent: [], unit: null, session: null };
  }

  function applyData(d, whole) {
    if (whole) data = emptyData();
    if (d.session) data.session = d.session;
    if (d.unit) data.unit = d.unit;
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
    updatedNode.textContent = fill(L.dash_updated, { time: hms.format(new Date()) });
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
    badge.title = h.last_seen ? fill(L.dash_last_seen, { time: fullDate(new Date(h.last_seen)) }) : L.dash_never_seen;
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
  let ws = null;
  let welcomed = false;
  let attempt = 0;
  let pingTimer = null;
  let retryTimer = null;
  let lastHeard = 0;
  let csrf = null;

  function AuthLost() {}

  async function getTicket() {
    for (let tries = 0; tries < 2; tries++) {
      if (!csrf) {
        const me = await fetch("/api/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (me.status === 401) throw new AuthLost();
        if (!me.ok) throw new Error("me " + me.status);
        csrf = (await me.json()).csrf_token;
      }
      const r = await fetch("/api/live/ticket", { method: "POST", credentials: "same-origin",
                                                  headers: { "X-CSRF-Token": csrf, Accept: "application/json" } });
      if (r.status === 401) throw new AuthLost();
      if (r.status === 403) { csrf = null; continue; } // a stale CSRF token: fetch a fresh one once
      if (!r.ok) throw new Error("ticket " + r.status);
      return (await r.json()).ticket;
    }
    throw new Error("ticket refused");
  }

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function subscribe() {
    const message = { type: "subscribe", topic: topic };
    if (seq !== null) {
      message.since = seq;
      if (epoch) message.epoch = epoch;
    }
    send(message);
  }

  async function connect() {
    retryTimer = null;
    welcomed = false;
    setStatus(attempt === 0 ? "connecting" : "lost");
    let ticket;
    try {
      ticket = await getTicket();
    } catch (e) {
      if (e instanceof AuthLost) {
        window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
        return;
      }
      retry();
      return;
    }
    const socket = new WebSocket((window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/ws");
    ws = socket;
    socket.onopen = function () {
      lastHeard = Date.now();
      socket.send(JSON.stringify({ type: "hello", v: 1, ticket: ticket }));
    };
    socket.onmessage = function (event) {
      if (socket !== ws) return;
      lastHeard = Date.now();
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    };
    socket.onclose = function (event) {
      if (socket !== ws) return;
      ws = null;
      welcomed = false;
      clearInterval(pingTimer);
      if (FATAL_CLOSES.indexOf(event.code) >= 0) { setStatus("failed"); return; }
      retry();
    };
  }

  function retry() {
    if (retryTimer) return;
    setStatus("lost");
    const delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
    attempt = Math.min(attempt + 1, 10);
    retryTimer = setTimeout(connect, delay);
  }

  function handle(m) {
    switch (m.type) {
      case "welcome": {
        welcomed = true;
        attempt = 0;
        setStatus("live");
        const every = Math.min(PING_MS, (m.heartbeat_s || 20) * 750);
        clearInterval(pingTimer);
        pingTimer = setInterval(function () {
          send({ type: "ping" });
          if (Date.now() - lastHeard > 3 * every + 5000 && ws) ws.close(); // a silent socket: start over
        }, every);
        subscribe();
        break;
      }
      case "snapshot":
        if (m.topic !== topic) return;
        seq = m.seq;
        epoch = m.epoch || (m.data && m.data.epoch) || epoch;
        resuming = false;
        showError("");
        applyData(m.data, true);
        break;
      case "change":
        if (m.topic !== topic || seq === null || m.seq <= seq) return;
        if (m.seq !== seq + 1) { // a gap: ask for what was missed (or a fresh snapshot)
          if (!resuming) { resuming = true; subscribe(); }
          return;
        }
        seq = m.seq;
        resuming = false;
        applyData(m.data, false);
        break;
      case "error":
        if (m.topic && m.topic !== topic) return;
        showError(m.code === "forbidden" ? L.dash_forbidden : L.dash_not_found);
        break;
      default: // pong, subscribed
        break;
    }
  }

  // -- drilling down the unit tree without reloading -------------------------------------------------
  function open(unit, newPath) {
    if (topic) send({ type: "unsubscribe", topic: topic });
    unitId = unit;
    path = newPath;
    topic = topicFor(unit);
    seq = null;
    epoch = null;
    resuming = false;
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
    if (welcomed) subscribe();
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
  window.addEventListener("online", function () {
    if (!ws && retryTimer) { clearTimeout(retryTimer); retryTimer = null; connect(); }
  });

  history.replaceState({ unit: unitId, path: path }, "", window.location.href);
  open(unitId, path);
  hallCount.textContent = L.dash_loading;
  connect();
})();
