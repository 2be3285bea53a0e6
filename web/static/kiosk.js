// The check-in kiosk (docs/KIOSK.md). The operator enrols the device with a one-time code, picks the
// session, and the page scans continuously, ~5 frames a second. In QR mode it reads the code itself
// (kiosk_decoder.js) and sends the text to POST /api/checkins: far less server CPU and a quicker verdict
// (scripts/bench/kiosk_decode.py, docs/KIOSK.md). In face mode, with ?decode=server, or while its reader
// has not loaded, camera frames (640×480 JPEG, one in flight) go to the server over the live hub's
// WebSocket as binary messages; verdicts come back on it.
// When the server cannot be reached the kiosk keeps checking in: by name from its cached roster, and
// QR codes typed by a hand-held scanner or read from the camera here (kiosk_decoder.js: BarcodeDetector or
// the vendored zxing-wasm) are verified with Ed25519 (WebCrypto) against the cached keys; every offline
// check-in is queued in IndexedDB (kiosk_queue.js) with its nonce and kiosk time and uploaded to
// /api/checkins/upload when the server is back.
// Every text from the server goes through textContent, never innerHTML.
import { $, config, el, fill, fold, formats, setText as alertIn } from "./dom.js";
import { Hub, State } from "./live.js";
import { qrDetector } from "./kiosk_decoder.js";
import { ScanQueue } from "./kiosk_queue.js";
import { scannerChar, scannerEnd } from "./kiosk_scanner.js";

const cfg = config("kiosk-config");
const L = cfg.labels;
const KEY = "hoinghi.kiosk.";
const FRAME_W = 640, FRAME_H = 480, JPEG_QUALITY = 0.7;
const SERVER_READS = new URLSearchParams(location.search).get("decode") === "server";  // frames even for QR
const IN_FLIGHT_MS = 1500;        // a frame unanswered this long no longer holds the next one back
const RESULT_MS = 2600;           // how long a verdict stays on screen
const UNDO_SHOWN_MS = 8000;       // how long a check-in picked by hand stays, with its undo button
const UPLOAD_BATCH = 200;
const BUNDLE_REFRESH_MS = 5 * 60 * 1000;
const RECONNECT_MAX_MS = 5000;
const { hhmm, dateTime: when } = formats(cfg.lang, cfg.zone);
const DOMAIN = new TextEncoder().encode("hoinghi/credential/v1");

function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }
function unhex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}
function nonce() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return "k-" + hex(bytes);
}

const store = {
  get(name, fallback) {
    try { const v = localStorage.getItem(KEY + name); return v === null ? fallback : JSON.parse(v); }
    catch (e) { return fallback; }
  },
  set(name, value) { localStorage.setItem(KEY + name, JSON.stringify(value)); },
  drop(name) { localStorage.removeItem(KEY + name); },
};

// -- state --------------------------------------------------------------------------------------
let device = store.get("device", null);      // {token, device_id, hall_id}
let session = store.get("session", null);    // {id, title, mode, camera}
let bundle = store.get("bundle", null);      // GET /api/kiosk/bundle, for offline check-in
let queue = [];                               // offline scans waiting for /api/checkins/upload (IndexedDB)
let lastUpload = store.get("last_upload", null);  // when an upload last succeeded (ISO time)
let known = store.get("known", {});          // session id -> {person id -> check-in time}: local repeats
let hallName = store.get("hall_name", "");
let sessions = [];
let online = false, linking = false, cameraReady = false;
let inFlight = 0, grabbing = false, stream = null, frameTimer = 0, audio = null, resultTimer = 0;
let flushing = false, detecting = false;
const detector = qrDetector();               // loaded now, online: it reads the camera when the server cannot
const recent = new Map();                     // QR text -> last time handled here (typed or detected)

const screens = { enrol: $("enrol"), setup: $("setup"), scan: $("scan") };
function show(name) {
  for (const [key, node] of Object.entries(screens)) node.hidden = key !== name;
}

class ApiError extends Error {
  constructor(status, data) {
    super((data && data.message) || "HTTP " + status);
    this.status = status;
    this.data = data;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (device) headers.Authorization = "Bearer " + device.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body) });  // a network failure throws TypeError
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401 && device) { unenrolled(L.kiosk_revoked); }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
const networkFailure = (e) => !(e instanceof ApiError);

// -- enrolment ----------------------------------------------------------------------------------
function unenrolled(message) {
  stopScanning();
  device = null;
  store.drop("device"); store.drop("bundle"); store.drop("session"); store.drop("known");
  bundle = null; session = null; known = {};
  alertIn($("enrol-error"), message || "");
  show("enrol");
}

$("enrol-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  alertIn($("enrol-error"), "");
  try {
    const answer = await api("POST", "/api/devices/enrol",
      { code: $("enrol-code").value.trim(), name: $("enrol-name").value.trim() });
    device = { token: answer.token, device_id: answer.device_id, hall_id: answer.hall_id };
    store.set("device", device);
    $("enrol-code").value = "";
    await setup();
  } catch (e) {
    alertIn($("enrol-error"), fill(L.kiosk_enrol_failed, { error: e.message }));
  }
});

// -- choosing the session -----------------------------------------------------------------------
let chosen = null;
async function setup() {
  stopScanning();
  show("setup");
  alertIn($("setup-error"), "");
  try {
    const data = await api("GET", "/api/kiosk/sessions");
    sessions = data.sessions;
    hallName = data.hall.name;
    store.set("hall_name", hallName);
    $("setup-hall").textContent = data.hall.name + " · " + data.conference.title;
    $("mode-face").disabled = !data.faces;
    $("face-note").hidden = !!data.faces;
    if (!data.faces) document.querySelector('input[name="mode"][value="qr"]').checked = true;
  } catch (e) {
    if (!device) return;
    if (networkFailure(e) && session) { startScanning(); return; }  // offline at start: go on with the cache
    alertIn($("setup-error"), fill(L.kiosk_error, { error: e.message }));
    return;
  }
  const list = $("session-list");
  list.replaceChildren();
  $("no-sessions").hidden = sessions.length > 0;
  const preferred = sessions.find((s) => session && s.id === session.id) || sessions.find((s) => s.checkin_open)
    || sessions[0] || null;
  for (const s of sessions) {
    const item = el("li");
    const button = el("button", "session" + (s.checkin_open ? " open" : ""));
    button.type = "button";
    button.dataset.session = s.id;
    button.append(el("strong", "", s.title), el("span", "muted", when(s.starts_at) + " – " + hhmm(s.ends_at)),
      el("span", "badge " + (s.checkin_open ? "online" : "offline"), windowBadge(s)));
    button.addEventListener("click", () => pick(s));
    item.append(button);
    list.append(item);
  }
  if (preferred) pick(preferred);
  listCameras();
}

function pick(s) {
  chosen = s;
  refreshBundle(s.id);  // cached before the scanning starts, in case the network goes right then
  for (const b of document.querySelectorAll(".session-list button")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.session) === s.id));
  }
  $("start").disabled = false;
  alertIn($("window-warning"), windowWarning(s));
}

// The check-in window as the server sent it: open, not yet open (and when it opens) or closed.
function windowState(s, now = Date.now()) {
  if (!s || !s.checkin_opens_at) return "open";
  if (now < Date.parse(s.checkin_opens_at)) return "not_yet";
  if (now > Date.parse(s.checkin_closes_at)) return "closed";
  return "open";
}
function windowBadge(s) {
  const state = s.checkin_open ? "open" : windowState(s);
  return state === "not_yet" ? fill(L.kiosk_opens_at, { time: when(s.checkin_opens_at) })
    : state === "closed" ? fill(L.kiosk_closed_at, { time: when(s.checkin_closes_at) }) : L.kiosk_checkin_open;
}
function windowWarning(s) {
  const state = s.checkin_open ? "open" : windowState(s);
  return state === "not_yet" ? fill(L.kiosk_window_not_yet, { time: when(s.checkin_opens_at) })
    : state === "closed" ? fill(L.kiosk_window_closed, { time: when(s.checkin_closes_at) }) : "";
}

async function listCameras() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
  const select = $("camera-select");
  select.replaceChildren();
  cams.forEach((d, n) => {
    const option = el("option", "", d.label || fill(L.kiosk_camera_n, { n: n + 1 }));
    option.value = d.deviceId;
    option.selected = !!(session && session.camera === d.deviceId);
    select.append(option);
  });
  $("camera-pick").hidden = cams.length < 2;
}

$("start").addEventListener("click", () => {
  if (!chosen) return;
  const mode = document.querySelector('input[name="mode"]:checked').value;
  session = { id: chosen.id, title: chosen.title, mode, camera: $("camera-pick").hidden ? "" : $("camera-select").value,
    checkin_opens_at: chosen.checkin_opens_at, checkin_closes_at: chosen.checkin_closes_at };
  store.set("session", session);
  if (!bundle || bundle.session.session_id !== session.id) { bundle = null; store.drop("bundle"); }
  if (!audio && window.AudioContext) audio = new AudioContext();  // needs this tap to be allowed to play
  if (audio && audio.state === "suspended") audio.resume();
  if (document.documentElement.requestFullscreen && !document.fullscreenElement) {
    document.documentElement.requestFullscreen().catch(() => {});
  }
  startScanning();
});
$("forget").addEventListener("click", () => {
  if (window.confirm(L.kiosk_forget_confirm)) unenrolled("");
});

// -- scanning -----------------------------------------------------------------------------------
function startScanning() {
  show("scan");
  $("bar-hall").textContent = hallName;
  $("bar-session").textContent = session.title;
  $("hint").textContent = session.mode === "face" ? L.kiosk_face_hint : L.kiosk_scan_hint;
  showWindow();
  openCamera();
  hub.start();
  clearInterval(frameTimer);
  frameTimer = setInterval(tick, Math.round(1000 / cfg.fps));
  updateNet();
}

let windowTimer = 0;
function showWindow() {  // outside the window every scan is refused: say so, and when it opens, until it does
  clearTimeout(windowTimer);
  const warning = windowWarning(session);
  alertIn($("window-banner"), warning);
  if (windowState(session) === "not_yet") {
    windowTimer = setTimeout(showWindow, Math.min(60_000, Date.parse(session.checkin_opens_at) - Date.now() + 500));
  }
}

function stopScanning() {
  clearTimeout(windowTimer);
  clearInterval(frameTimer);
  frameTimer = 0;
  hub.stop();
  online = false; cameraReady = false;
  if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
}

$("change-session").addEventListener("click", () => setup());
$("fullscreen").addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
});

async function openCamera() {
  alertIn($("camera-error"), "");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    alertIn($("camera-error"), fill(L.kiosk_camera_failed, { error: "getUserMedia" }));
    return;
  }
  const video = { width: { ideal: FRAME_W }, height: { ideal: FRAME_H }, frameRate: { ideal: 15 } };
  if (session.camera) video.deviceId = { exact: session.camera };
  else video.facingMode = "user";
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: false, video });
    const node = $("preview");
    node.srcObject = stream;
    await node.play().catch(() => {});
  } catch (e) {
    alertIn($("camera-error"), fill(L.kiosk_camera_failed, { error: e.name || String(e) }));
  }
}

const canvas = document.createElement("canvas");
function grab() {
  const video = $("preview");
  const vw = video.videoWidth, vh = video.videoHeight;
  if (!vw || !vh) return Promise.resolve(null);
  const scale = Math.min(1, FRAME_W / vw, FRAME_H / vh);
  canvas.width = Math.round(vw * scale);
  canvas.height = Math.round(vh * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
}

function tick() {
  const video = $("preview");
  if (document.hidden || !stream || video.readyState < 2) return;
  const readHere = detector && (online ? detector.ready && session.mode === "qr" && !SERVER_READS : true);
  if (online && cameraReady && hub.open && !readHere) {
    if (grabbing || (inFlight && performance.now() - inFlight < IN_FLIGHT_MS) || hub.buffered > 0) return;
    grabbing = true;
    const link = hub.generation;  // a picture grabbed on one connection is not sent on the next
    grab().then((blob) => {
      if (blob && link === hub.generation && cameraReady && blob.size <= cfg.frame_max && hub.sendBinary(blob)) {
        inFlight = performance.now();
      }
    }).finally(() => { grabbing = false; });
  } else if (readHere && !detecting) {
    detecting = true;  // the kiosk reads the QR code itself; online the text goes to POST /api/checkins
    detector.detect(video).then((codes) => codes.forEach((c) => handleText(c.rawValue)))
      .catch(() => {}).finally(() => { detecting = false; });
  }
}

// -- the live hub connection (live.js: hello with the device token, pings, reconnects) ---------------
const hub = new Hub({
  deviceToken: () => (device ? device.token : null),
  maxDelayMs: RECONNECT_MAX_MS,
  onState: (state) => setOnline(state === State.OPEN, state === State.CONNECTING),
  onWelcome: () => {
    hub.send({ type: "camera", session_id: session.id, mode: session.mode, lang: cfg.lang });
    flushQueue();
    refreshBundle();
  },
  onMessage: (m) => onMessage(m),
  onSignedOut: () => unenrolled(L.kiosk_revoked),
});

function onMessage(m) {
  if (m.type === "camera") {
    cameraReady = true;
    inFlight = 0;
    $("hint").textContent = m.mode === "face" ? L.kiosk_face_hint : L.kiosk_scan_hint;
  } else if (m.type === "read") {
    inFlight = 0;
  } else if (m.type === "verdict") {
    remember(m);
    showVerdict(m, false);
  } else if (m.type === "face") {
    $("hint").textContent = m.message || L.kiosk_face_hint;
  } else if (m.type === "face_confirm") {
    askToConfirm(m);
  } else if (m.type === "error") {
    if (m.code === "bad_frame") return;
    if (!cameraReady) { setup().then(() => alertIn($("setup-error"), fill(L.kiosk_error, { error: m.message }))); }
    else console.warn("kiosk:", m.code, m.message);
  }
}

function setOnline(value, connecting) {
  online = value;
  linking = !!connecting;
  if (!value) { cameraReady = false; inFlight = 0; }
  updateNet();
}

function updateNet() {
  const node = $("net");
  const n = queue.length;
  node.className = "net " + (online ? "online" : linking ? "connecting" : "offline");
  node.querySelector(".text").textContent = online ? (n ? fill(L.kiosk_online_pending, { n }) : L.kiosk_online)
    : fill(L.kiosk_offline, { n });
  const hint = $("offline-hint");
  hint.hidden = online;
  hint.textContent = detector ? L.kiosk_offline_hint_barcode : L.kiosk_offline_hint;
  $("hint").hidden = !online && !detector;
  $("queue-info").textContent = fill(L.kiosk_queue_info, { n })
    + " · " + (lastUpload ? fill(L.kiosk_last_upload, { time: when(lastUpload) }) : L.kiosk_no_upload);
}

async function refreshBundle(sessionId = session && session.id) {
  if (!sessionId || (bundle && bundle.session.session_id === sessionId
      && Date.now() - (bundle.fetched || 0) < BUNDLE_REFRESH_MS)) return;
  try {
    const data = await api("GET", "/api/kiosk/bundle?session_id=" + sessionId);
    data.fetched = Date.now();
    bundle = data;
    store.set("bundle", bundle);
  } catch (e) { /* keep the cached one */ }
}
setInterval(() => { if (online) refreshBundle(); }, BUNDLE_REFRESH_MS);

// -- verdicts -----------------------------------------------------------------------------------
function remember(v) {
  if (!session || !v.person || !v.checkin || v.outcome === "refused") return;
  const mine = known[session.id] || (known[session.id] = {});
  mine[v.person.person_id] = v.checkin.server_time;
  store.set("known", known);
}

function showVerdict(v, offline) {
  const kind = v.outcome === "accepted" ? "ok" : v.outcome === "repeat" ? "warn" : "bad";
  const name = v.person ? v.person.full_name : "";
  const unit = v.person ? v.person.unit_name : "";
  let title, big, detail;
  if (kind === "ok") {
    title = v.message; big = "";
    detail = [unit, hhmm(v.checkin ? v.checkin.server_time : null)].filter(Boolean).join(" · ");
  } else if (kind === "warn") {
    title = name; big = ""; detail = v.message;
  } else {
    title = L.kiosk_refused; big = name; detail = v.message;
    if (v.reason === "checkin_not_open" && session && session.checkin_opens_at) {
      detail = [detail, fill(L.kiosk_opens_at, { time: when(session.checkin_opens_at) })].join(" · ");
    }
  }
  if (offline) detail = [detail, L.kiosk_offline_mark].filter(Boolean).join(" · ");
  const node = $("result");
  $("result-undo").hidden = true;
  node.className = "result " + kind + (offline ? " offline" : "");
  node.dataset.outcome = v.outcome;
  $("result-icon").textContent = kind === "ok" ? "✔" : kind === "warn" ? "↺" : "✘";
  $("result-title").textContent = title;
  $("result-name").textContent = big;
  $("result-name").hidden = !big;
  $("result-detail").textContent = detail;
  node.hidden = false;
  tone(kind);
  clearTimeout(resultTimer);
  resultTimer = setTimeout(() => { node.hidden = true; }, RESULT_MS);
}
$("result").addEventListener("click", () => { $("result").hidden = true; });

function tone(kind) {  // short tones, no audio files: a rising pair, one middle note, a low double buzz
  if (!audio) return;
  const notes = kind === "ok" ? [[880, 0, 0.12], [1320, 0.13, 0.2]] : kind === "warn" ? [[660, 0, 0.3]]
    : [[220, 0, 0.22], [220, 0.3, 0.3]];
  const start = audio.currentTime + 0.01;
  for (const [freq, at, length] of notes) {
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = kind === "bad" ? "square" : "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start + at);
    gain.gain.exponentialRampToValueAtTime(kind === "bad" ? 0.12 : 0.3, start + at + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + at + length);
    osc.connect(gain).connect(audio.destination);
    osc.start(start + at);
    osc.stop(start + at + length + 0.02);
  }
}

// A likely face match that the operator confirms with a tap (then checked in with method "face").
let confirming = null;
function askToConfirm(m) {
  if (!m.person || !$("search").hidden) return;
  confirming = m;
  $("confirm-title").textContent = m.message;
  $("confirm-unit").textContent = m.person.unit_name || "";
  $("confirm").hidden = false;
  tone("warn");
}
$("confirm-yes").addEventListener("click", () => {
  const m = confirming;
  $("confirm").hidden = true;
  confirming = null;
  if (m) checkIn({ person_id: m.person.person_id, method: "face", face_decision: m.face_decision }, m.person);
});
$("confirm-no").addEventListener("click", () => { $("confirm").hidden = true; confirming = null; });

// -- check-ins outside the camera: typed or detected QR texts, manual picks ---------------------
// A check-in picked by hand (a namesake, say) taken back at once: the server's undo, this kiosk's own record.
function offerUndo(v) {
  const button = $("result-undo");
  button.hidden = false;
  clearTimeout(resultTimer);  // long enough to see the name and take it back
  resultTimer = setTimeout(() => { $("result").hidden = true; }, UNDO_SHOWN_MS);
  button.onclick = async (event) => {
    event.stopPropagation();
    button.hidden = true;
    try {
      await api("POST", "/api/checkins/undo", { session_id: session.id, person_id: v.person.person_id });
      if (known[session.id]) { delete known[session.id][v.person.person_id]; store.set("known", known); }
      showVerdict({ outcome: "repeat", person: v.person, message: fill(L.kiosk_undone, { name: v.person.full_name }) },
        false);
    } catch (e) {
      showVerdict({ outcome: "refused", message: e.message, person: v.person }, false);
    }
  };
}

async function checkIn(item, card) {
  const full = Object.assign({ session_id: session.id, nonce: nonce(), kiosk_time: new Date().toISOString() }, item);
  if (online) {
    try {
      const v = await api("POST", "/api/checkins?lang=" + cfg.lang, full);
      remember(v);
      showVerdict(v, false);
      if (item.method === "manual" && v.outcome === "accepted") offerUndo(v);  // a pick by hand can be wrong
      return;
    } catch (e) {
      if (!networkFailure(e)) { showVerdict({ outcome: "refused", message: e.message, person: null }, false); return; }
    }
  }
  await offlineCheckIn(full, card || null);
}

function handleText(text) {
  text = String(text || "").trim();
  if (!text || !session || screens.scan.hidden) return;
  const now = performance.now();
  const last = recent.get(text);
  recent.set(text, now);
  if (last !== undefined && now - last < cfg.repeat_seconds * 1000) return;
  checkIn({ credential: text, method: "qr" });
}

// A hand-held scanner types the code followed by Enter, much faster than a person.
let typed = "", typedAt = 0;
document.addEventListener("keydown", (ev) => {
  const target = ev.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
  const now = performance.now();
  if (now - typedAt > 300) typed = "";
  typedAt = now;
  if (scannerEnd(ev)) {
    if (/^HN1:[A-Z2-7]{20,}$/i.test(typed)) { ev.preventDefault(); handleText(typed); }
    typed = "";
  } else {
    typed += scannerChar(ev);  // the key pressed, whatever an input method makes of it
  }
});

// -- offline ------------------------------------------------------------------------------------
function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const out = [];
  let bits = 0, value = 0;
  for (const ch of text) {
    const i = alphabet.indexOf(ch);
    if (i < 0) return null;
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return new Uint8Array(out);
}

// What the server's attendance/credentials.verify checks, with the cached keys, revocations and roster.
async function verifyOffline(text) {
  const refuse = (reason) => ({ ok: false, reason });
  if (text.length > 200 || !/^HN1:/i.test(text)) return refuse("malformed");
  const blob = base32(text.slice(4).toUpperCase());
  if (!blob || blob.length !== 86) return refuse("malformed");
  const payload = blob.slice(0, 22), signature = blob.slice(22);
  const view = new DataView(payload.buffer);
  if (payload[0] !== 1) return refuse("malformed");
  const credentialId = hex(payload.slice(2, 10));
  const scope = view.getUint32(10), from = view.getUint32(14), until = view.getUint32(18);
  if (!bundle) return { ok: true, unverified: true };
  const keyHex = bundle.public_keys[String(payload[1])];
  if (!keyHex) return refuse("unknown_key");
  if (!window.crypto || !crypto.subtle) return { ok: true, unverified: true };
  try {
    const key = await crypto.subtle.importKey("raw", unhex(keyHex), { name: "Ed25519" }, false, ["verify"]);
    const signed = new Uint8Array(DOMAIN.length + payload.length);
    signed.set(DOMAIN); signed.set(payload, DOMAIN.length);
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, signature, signed))) return refuse("bad_signature");
  } catch (e) {
    return { ok: true, unverified: true };  // a browser without Ed25519 in WebCrypto: the server decides
  }
  const now = Date.now() / 1000;
  if (until <= from) return refuse("malformed");
  if (now < from) return refuse("not_yet_valid");
  if (now > until) return refuse("expired");
  if (scope !== 0 && scope !== bundle.session.conference_id) return refuse("wrong_conference");
  if (bundle.revoked.includes(credentialId)) return refuse("revoked");
  const person = bundle.roster.find((p) => p.credential_id === credentialId) || null;
  return { ok: true, person };
}

async function offlineCheckIn(item, card) {
  let person = null, unverified = false;
  if (item.credential !== undefined) {
    const check = await verifyOffline(item.credential);
    if (!check.ok) {
      await enqueue(item);  // refused scans are kept for audit too
      showVerdict({ outcome: "refused", reason: check.reason, person: null,
        message: L.refusals[check.reason] || check.reason }, true);
      return;
    }
    person = check.person || null;
    unverified = !!check.unverified;
    if (!person && !unverified) {
      await enqueue(item);
      showVerdict({ outcome: "repeat", person: null, message: L.kiosk_offline_unknown }, true);
      return;
    }
  } else {
    person = (bundle ? bundle.roster : []).find((p) => p.person_id === item.person_id) || card;
  }
  if (unverified) {
    await enqueue(item);
    showVerdict({ outcome: "repeat", person: null, message: L.kiosk_offline_unverified }, true);
    return;
  }
  const mine = known[session.id] || (known[session.id] = {});
  const who = person ? { person_id: person.person_id, full_name: person.full_name, unit_name: person.unit_name } : null;
  if (who && mine[who.person_id]) {
    showVerdict({ outcome: "repeat", person: who,
      message: fill(L.kiosk_offline_repeat, { time: hhmm(mine[who.person_id]) }) }, true);
    return;  // a repeat is not worth queueing: the server already has, or will have, the first one
  }
  await enqueue(item);
  if (who) { mine[who.person_id] = item.kiosk_time; store.set("known", known); }
  showVerdict({ outcome: "accepted", person: who, checkin: { server_time: item.kiosk_time },
    message: fill(L.greetings.accepted, { name: who ? who.full_name : "" }) }, true);
}

// The queue lives in IndexedDB (kiosk_queue.js); `queue` is its copy in memory, for counting and batching.
const scans = ScanQueue.open().then(async (q) => {
  queue = await q.all();
  updateNet();
  return q;
}).catch((e) => {
  console.warn("kiosk: no IndexedDB, the offline queue is kept in memory only:", e);
  return null;
});

async function enqueue(item) {
  queue.push(item);
  updateNet();
  const q = await scans;
  if (q) await q.add(item);  // committed before the verdict is shown
}

async function flushQueue() {
  if (flushing || !online) return;
  flushing = true;
  await scans;
  if (!queue.length) { flushing = false; return; }
  let sent = 0;
  try {
    while (queue.length && online) {
      const batch = queue.slice(0, UPLOAD_BATCH);
      try {
        const answer = await api("POST", "/api/checkins/upload?lang=" + cfg.lang, { items: batch });
        answer.results.forEach(remember);
      } catch (e) {
        const bad = e.status === 422 && /items\[(\d+)\]/.exec(e.message || "");
        if (bad) {  // one item the server cannot take at all: set it aside, send the rest
          const rejected = store.get("rejected", []);
          rejected.push({ item: batch[Number(bad[1])], error: e.message });
          store.set("rejected", rejected);
          await dropSent([batch[Number(bad[1])]]);
          continue;
        }
        break;
      }
      await dropSent(batch);
      sent += batch.length;
      lastUpload = new Date().toISOString();
      store.set("last_upload", lastUpload);
    }
  } finally {
    flushing = false;
    updateNet();
  }
  if (sent) console.info("kiosk:", fill(L.kiosk_uploaded, { n: sent }));
}

async function dropSent(items) {
  const gone = new Set(items.map((i) => i.nonce));
  queue = queue.filter((i) => !gone.has(i.nonce));
  const q = await scans;
  if (q) await q.remove([...gone]);
}

// -- manual search ------------------------------------------------------------------------------
let searchTimer = 0, searchSeq = 0;
$("search-open").addEventListener("click", () => {
  $("search").hidden = false;
  $("search-input").value = "";
  $("search-results").replaceChildren();
  $("search-empty").hidden = true;
  $("search-input").focus();
  search("");
});
$("search-close").addEventListener("click", () => { $("search").hidden = true; });
$("search-input").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => search($("search-input").value), 200);
});

function offlineMatches(q) {
  const words = fold(q).split(/\s+/).filter(Boolean);
  return (bundle ? bundle.roster : []).filter((p) => {
    const name = fold(p.full_name);
    return words.every((w) => name.includes(w));
  }).slice(0, 30).map((p) => ({ id: p.person_id, full_name: p.full_name, unit_name: p.unit_name }));
}

async function search(q) {
  const seq = ++searchSeq;
  let people = null;
  if (online) {
    try {
      const data = await api("GET", "/api/kiosk/halls/" + device.hall_id + "?limit=30&session_id=" + session.id
        + "&q=" + encodeURIComponent(q));
      const units = new Map((bundle ? bundle.roster : []).map((p) => [p.person_id, p.unit_name]));
      people = data.people.map((p) => ({ id: p.id, full_name: p.full_name, unit_name: units.get(p.id) || "",
        detail: p.detail, checked_in_at: p.checked_in_at }));
    } catch (e) { people = null; }
  }
  if (people === null) people = offlineMatches(q);
  if (seq !== searchSeq) return;
  const list = $("search-results");
  list.replaceChildren();
  const mine = (session && known[session.id]) || {};
  for (const p of people) {
    const item = el("li");
    const who = el("div", "who");
    who.append(el("strong", "", p.full_name), el("span", "muted", p.detail || p.unit_name));  // namesakes apart
    const at = p.checked_in_at || mine[p.id];
    if (at) {  // already checked in: say when, no button to press again
      item.classList.add("done");
      item.append(who, el("span", "badge online already", fill(L.kiosk_already_in, { time: hhmm(at) })));
      list.append(item);
      continue;
    }
    const button = el("button", "", L.kiosk_check_in);
    button.type = "button";
    button.addEventListener("click", () => {
      $("search").hidden = true;
      checkIn({ person_id: p.id, method: "manual" }, { person_id: p.id, full_name: p.full_name, unit_name: p.unit_name });
    });
    item.append(who, button);
    list.append(item);
  }
  $("search-empty").hidden = people.length > 0;
}

// -- start --------------------------------------------------------------------------------------
$("kiosk-insecure").hidden = window.isSecureContext;
if (!device) show("enrol");
else setup();

