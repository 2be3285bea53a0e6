// The livestream pages: present (camera or screen to the server), watch (WebRTC, falling back to HLS on
// its own), and a hall's screen (watch, ask to speak, send the hall's camera when given the floor).
// Signalling rides the live hub's WebSocket (docs/PROTOCOL.md section 7); every text from the server
// goes through textContent, never innerHTML.
import { $, config, el, fill, formats, show } from "./dom.js";
import { Hub, State, signIn } from "./live.js";

const cfg = config("media-config");
const L = cfg.labels;
const CONNECT_MS = 10000; // WebRTC not connected by then: HLS
const STALL_MS = 8000; // live, connected, but no picture for this long: HLS
const GATHER_MS = 2000;
const TOKEN_KEY = "hoinghi.device_token";
const RECONNECT_MAX_MS = 15000;

function say(text, kind) {
  const node = $("media-message");
  if (!node) return;
  node.textContent = text || "";
  node.className = "media-message" + (kind ? " " + kind : "");
  node.hidden = !text;
}

// -- who we are: a signed-in browser (ticket) or a hall screen device (token) ----------------------
function deviceToken() { return cfg.device ? window.localStorage.getItem(TOKEN_KEY) : null; }
async function api(path) {
  const headers = { Accept: "application/json" };
  const token = deviceToken();
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(path, { credentials: "same-origin", headers: headers });
  if (!r.ok) { const e = new Error(path + " " + r.status); e.status = r.status; throw e; }
  return r.json();
}

// The session's media (ICE servers, codec, HLS address), or null when this user may not watch it (said).
async function mediaInfo() {
  try {
    const info = await api("/api/sessions/" + cfg.session + "/media");
    cfg.codec = info.codec;
    return info;
  } catch (e) {
    say(L.media_forbidden, "bad");
    return null;
  }
}

// -- the hub socket (live.js), at the path a proxy routes to the process carrying this session's media --
function connectHub(onWelcome, onMessage, onState) {
  return new Hub({
    path: "/media/ws?session=" + encodeURIComponent(cfg.session),
    deviceToken: deviceToken,
    maxDelayMs: RECONNECT_MAX_MS,
    onWelcome: function () { onWelcome(); },
    onMessage: function (message) { onMessage(message); },
    onState: function (state) { if (onState) onState(state); },
    onSignedOut: function (withDevice) { // a revoked hall screen asks for its token again
      if (withDevice) { window.localStorage.removeItem(TOKEN_KEY); window.location.reload(); } else signIn();
    },
  }).start();
}

// -- signalling: the browser offers, the server answers (with all its candidates) -------------------
const pending = {}; // ref -> {resolve, reject}
let refs = 0;
function answered(message) {
  const waiter = message.ref && pending[message.ref];
  if (!waiter) return false;
  delete pending[message.ref];
  if (message.type === "rtc_answer") waiter.resolve(message); else waiter.reject(message);
  return true;
}
function gathered(pc) {
  return new Promise(function (resolve) {
    if (pc.iceGatheringState === "complete") return resolve();
    const timer = setTimeout(resolve, GATHER_MS);
    pc.addEventListener("icegatheringstatechange", function () {
      if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
    });
  });
}
async function negotiate(live, pc, role, extra) {
  const ref = "r" + (++refs);
  const late = [];
  let peerId = null;
  pc.addEventListener("icecandidate", function (event) {
    const c = event.candidate;
    const m = { type: "rtc_candidate", candidate: c ? c.candidate : "", sdp_mid: c ? c.sdpMid : null,
                sdp_mline_index: c ? c.sdpMLineIndex : null };
    if (peerId) { m.pc = peerId; live.send(m); } else late.push(m);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc); // on a LAN this takes milliseconds; later candidates trickle
  const answer = await new Promise(function (resolve, reject) {
    pending[ref] = { resolve: resolve, reject: reject };
    const sent = live.send(Object.assign({ type: "rtc_offer", session: cfg.session, role: role,
                                           sdp: pc.localDescription.sdp, ref: ref }, extra || {}));
    if (!sent) { delete pending[ref]; reject({ code: "offline" }); }
    setTimeout(function () { if (pending[ref]) { delete pending[ref]; reject({ code: "timeout" }); } }, 15000);
  });
  peerId = answer.pc;
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  // candidates found after the offer went out (the offer already carries the gathered ones)
  late.forEach(function (m) { m.pc = peerId; live.send(m); });
  return peerId;
}
function preferCodec(transceiver, kind, mime) {
  if (!transceiver.setCodecPreferences || !window.RTCRtpSender.getCapabilities) return;
  const caps = RTCRtpSender.getCapabilities(kind).codecs;
  const first = caps.filter(function (c) { return c.mimeType.toLowerCase() === mime.toLowerCase(); });
  if (!first.length) return;
  const rest = caps.filter(function (c) { return first.indexOf(c) < 0; });
  try { transceiver.setCodecPreferences(first.concat(rest)); } catch (e) { /* keep the browser's order */ }
}

// -- a player: WebRTC first, HLS when WebRTC cannot connect or stalls -------------------------------
function Player(live, video, info) {
  this.live = live;
  this.video = video;
  this.info = info;
  this.pc = null;
  this.peerId = null;
  this.mode = null; // "webrtc" | "hls"
  this.hls = null;
  this.hlsUrl = null;
  this.state = null;
  this.watchdog = null;
  this.lastFrames = 0;
  this.lastProgress = Date.now();
  this.forceHls = /[?&]hls=1\b/.test(location.search);
  video.muted = true; // autoplay needs it; the unmute button gives the sound
  video.playsInline = true;
  video.autoplay = true;
}
Player.prototype.frames = function () {
  const q = this.video.getVideoPlaybackQuality ? this.video.getVideoPlaybackQuality() : null;
  return q ? q.totalVideoFrames : (this.video.webkitDecodedFrameCount || 0);
};
Player.prototype.start = function () {
  if (this.forceHls) return this.startHls();
  this.startWebRtc();
};
Player.prototype.startWebRtc = async function () {
  const self = this;
  this.stopAll();
  this.mode = "webrtc";
  setMode("webrtc");
  const pc = new RTCPeerConnection({ iceServers: this.info.ice_servers || [] });
  this.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.ontrack = function (event) {
    stream.addTrack(event.track);
    if (self.video.srcObject !== stream) self.video.srcObject = stream;
    self.video.play().catch(function () {});
  };
  pc.onconnectionstatechange = function () {
    if (pc !== self.pc) return;
    if (pc.connectionState === "failed") self.fallback("failed");
  };
  const deadline = setTimeout(function () {
    if (pc === self.pc && pc.connectionState !== "connected") self.fallback("timeout");
  }, CONNECT_MS);
  try {
    this.peerId = await negotiate(this.live, pc, "view");
  } catch (e) {
    clearTimeout(deadline);
    if (pc === self.pc) this.fallback(e && e.code || "error");
    return;
  }
  this.lastProgress = Date.now();
  this.watchdog = setInterval(function () { self.check(); }, 1000);
};
Player.prototype.check = function () {
  const n = this.frames();
  if (n !== this.lastFrames) { this.lastFrames = n; this.lastProgress = Date.now(); }
  if (!this.state || !this.state.live) { this.lastProgress = Date.now(); return; }
  if (this.mode === "webrtc" && Date.now() - this.lastProgress > STALL_MS) this.fallback("stalled");
};
Player.prototype.fallback = function (why) {
  if (this.mode === "hls") return;
  const url = this.state && this.state.hls || this.info.hls;
  this.closePeer();
  if (url) { this.startHls(); return; }
  const self = this; // no HLS yet: try WebRTC again in a while
  say(L.media_retrying, "warn");
  setTimeout(function () { if (self.mode === "webrtc" && !self.pc) self.startWebRtc(); }, 5000);
};
Player.prototype.startHls = function () {
  const url = this.state && this.state.hls || this.info.hls;
  this.closePeer();
  this.mode = "hls";
  setMode("hls");
  if (!url) { say(L.media_not_live, ""); return; }
  if (url === this.hlsUrl) return;
  this.stopHls();
  this.hlsUrl = url;
  // under the viewer's own key (/media/hls/S/<stream>/<viewer>/index.m3u8): the segments it fetches are
  // what counts them watching (online attendance); a hall screen has none and plays the shared path
  const own = this.info.hls_viewer ? url.replace(/[^/]+$/, this.info.hls_viewer + "/$&") : url;
  const video = this.video;
  video.srcObject = null;
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls({ liveSyncDurationCount: 2, maxLiveSyncPlaybackRate: 1.2, lowLatencyMode: false });
    this.hls = hls;
    hls.loadSource(own);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.MANIFEST_PARSED, function () { video.play().catch(function () {}); });
    hls.on(window.Hls.Events.ERROR, function (event, data) {
      if (data.fatal && data.type === window.Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
      else if (data.fatal) hls.recoverMediaError();
    });
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = own; // Safari plays HLS natively
    video.play().catch(function () {});
  } else {
    say(L.media_unsupported, "bad");
  }
};
Player.prototype.stopHls = function () {
  if (this.hls) { this.hls.destroy(); this.hls = null; }
  this.hlsUrl = null;
};
Player.prototype.closePeer = function () {
  clearInterval(this.watchdog);
  if (this.peerId) this.live.send({ type: "rtc_close", pc: this.peerId });
  if (this.pc) this.pc.close();
  this.pc = null;
  this.peerId = null;
};
Player.prototype.stopAll = function () { this.closePeer(); this.stopHls(); };
Player.prototype.update = function (state) {
  this.state = state;
  if (this.mode === "hls" && state.hls && state.hls !== this.hlsUrl) this.startHls();
};
Player.prototype.closed = function (message) {
  if (message.pc === this.peerId) { this.pc = null; this.peerId = null; this.fallback("closed"); }
};
function setMode(mode) {
  const node = $("media-mode");
  if (node) node.textContent = mode === "hls" ? L.media_mode_hls : L.media_mode_webrtc;
}

// -- state display ----------------------------------------------------------------------------------
// The status chip, the viewer count and the recording badge; the count and the badge only while on air
// (a stopped broadcast's lingering peers and muxer are not "2 viewers, recording"). The presenter's page
// says "not on air" in its own words, not the viewers' "the picture appears when it starts".
function renderState(state) {
  const status = $("media-status");
  if (status) {
    status.className = "live-status " + (state.live ? "live" : "idle");
    status.querySelector(".text").textContent = state.live
      ? (state.on_air && state.on_air.kind === "hall" ? fill(L.media_on_air_hall, { name: state.on_air.name }) : L.media_live)
      : (cfg.page === "present" ? L.media_off_air : L.media_not_live);
  }
  const viewers = $("media-viewers");
  if (viewers) viewers.textContent = state.live ? fill(L.media_viewers, { n: state.viewers }) : "";
  show($("media-recording"), !!(state.live && state.recording));
  if (state.live) say("");
}
function renderFloor(live, state, control) {
  const box = $("floor");
  if (!box) return;
  const list = $("floor-hands");
  const floor = state.floor || { hands: [], holder: null };
  $("floor-holder").textContent = floor.holder ? fill(L.media_floor_holder, { name: floor.holder_name }) : L.media_floor_presenter;
  show($("floor-take-back"), control && !!floor.holder);
  list.textContent = "";
  if (!floor.hands.length) list.appendChild(el("li", "muted", L.media_no_hands));
  floor.hands.forEach(function (hand, i) {
    const item = el("li", "hand");
    item.appendChild(el("span", "hand-name", (i + 1) + ". " + hand.hall));
    if (control) {
      const give = el("button", "small", L.media_give_floor);
      give.type = "button";
      give.onclick = function () { live.send({ type: "floor", session: cfg.session, action: "give", hall: hand.hall_id }); };
      item.appendChild(give);
      if (i > 0) {
        const up = el("button", "small link", "↑");
        up.type = "button";
        up.title = L.media_move_up;
        up.onclick = function () {
          const order = floor.hands.map(function (h) { return h.hall_id; });
          order.splice(i - 1, 0, order.splice(i, 1)[0]);
          live.send({ type: "floor", session: cfg.session, action: "order", halls: order });
        };
        item.appendChild(up);
      }
    }
    list.appendChild(item);
  });
}

function unmuteButton(video) {
  const button = $("media-unmute");
  if (!button) return;
  button.onclick = function () {
    video.muted = !video.muted;
    button.textContent = video.muted ? L.media_unmute : L.media_mute;
    video.play().catch(function () {});
  };
}

// -- pages ------------------------------------------------------------------------------------------
async function watchPage() {
  const video = $("media-video");
  const info = await mediaInfo();
  if (!info) return;
  let player = null;
  unmuteButton(video);
  const live = connectHub(function () {
    live.send({ type: "media_watch", session: cfg.session });
    if (!player) { player = new Player(live, video, info); player.start(); }
  }, function (message) {
    if (answered(message)) return;
    if (message.type === "media_state") {
      renderState(message);
      renderFloor(live, message, cfg.control);
      if (player) player.update(message);
      if (!message.live) say(L.media_not_live, "");
    } else if (message.type === "rtc_closed" && player) {
      player.closed(message);
    }
  });
  // the subscription is the online presence (re-sent by live.js after every reconnect)
  if (cfg.viewer_topic) live.subscribe("session:" + cfg.session + "/viewer");
  window.hoinghiPlayer = function () { return player; };
  const takeBack = $("floor-take-back");
  if (takeBack) takeBack.onclick = function () { live.send({ type: "floor", session: cfg.session, action: "take_back" }); };
  showRecordings();
}

async function showRecordings() {
  const section = $("recordings");
  if (!section) return;
  let list;
  try { list = (await api("/api/sessions/" + cfg.session + "/recordings")).recordings; } catch (e) { return; }
  const ul = $("recording-list");
  const { dateTime } = formats(cfg.lang, cfg.zone);
  list.forEach(function (r) {
    const item = el("li");
    const started = dateTime(r.started_at); // dd/MM/yyyy HH:mm
    const link = el("a", null, started + (r.recording ? " · " + L.media_recording : ""));
    link.href = r.url;
    item.appendChild(link);
    item.appendChild(el("span", "muted small", " · " + (r.bytes / 1048576).toFixed(1) + " MB"));
    ul.appendChild(item);
  });
  show(section, list.length > 0);
}

async function capture(kind) {
  if (kind === "screen") {
    const screen = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
    try {
      const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
      mic.getAudioTracks().forEach(function (t) { screen.addTrack(t); });
    } catch (e) { /* a screen without a microphone */ }
    return screen;
  }
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true },
    video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
  });
}

function Publisher(live, info, extra) {
  this.live = live;
  this.info = info;
  this.extra = extra || {};
  this.pc = null;
  this.peerId = null;
  this.stream = null;
}
Publisher.prototype.start = async function (stream) {
  this.stop();
  this.stream = stream;
  const pc = new RTCPeerConnection({ iceServers: this.info.ice_servers || [] });
  this.pc = pc;
  stream.getTracks().forEach(function (track) {
    const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    if (track.kind === "video") {
      preferCodec(transceiver, "video", "video/" + (cfg.codec || "H264"));
      if (track.contentHint !== undefined) track.contentHint = "motion";
    }
  });
  const self = this;
  pc.onconnectionstatechange = function () {
    if (pc === self.pc && self.onstate) self.onstate(pc.connectionState);
  };
  this.peerId = await negotiate(this.live, pc, "publish", this.extra);
  return this.peerId;
};
Publisher.prototype.stop = function () {
  if (this.peerId) this.live.send({ type: "rtc_close", pc: this.peerId });
  if (this.pc) this.pc.close();
  this.pc = null;
  this.peerId = null;
};
Publisher.prototype.release = function () {
  this.stop();
  if (this.stream) this.stream.getTracks().forEach(function (t) { t.stop(); });
  this.stream = null;
};

async function presentPage() {
  const preview = $("media-preview");
  const startButton = $("media-start");
  const stopButton = $("media-stop");
  const sourceSelect = $("media-source");
  const info = await mediaInfo();
  if (!info) return;
  let publisher = null;
  let sending = false;
  let wanted = false; // Start pressed before the hub's socket was open
  function buttons() { show(startButton, !sending); show(stopButton, sending); sourceSelect.disabled = sending; }
  const live = connectHub(function () {
    live.send({ type: "media_watch", session: cfg.session });
    publisher = publisher || new Publisher(live, info);
    publisher.onstate = function (state) {
      $("media-connection").textContent = L["media_pc_" + state] || state;
      if (state === "failed" && sending) go(); // the network came back: publish again
    };
    if (sending || wanted) go(); // the socket came back (or a start was asked before it came): publish
  }, function (message) {
    if (answered(message)) return;
    if (message.type === "media_state") { renderState(message); renderFloor(live, message, cfg.control); }
    else if (message.type === "rtc_closed" && publisher && message.pc === publisher.peerId) {
      publisher.pc = null; publisher.peerId = null;
      if (message.reason === "replaced") { sending = false; buttons(); say(L.media_replaced, "warn"); }
    } else if (message.type === "rtc_error") say(message.message, "bad");
  }, function (state) {
    if (state === State.WAITING || state === State.FAILED) $("media-connection").textContent = L.media_pc_disconnected;
  });

  async function go() {
    if (!publisher) { wanted = true; return; } // not connected yet: start once the hub answers
    wanted = false;
    try {
      const stream = publisher.stream || await capture(sourceSelect.value);
      preview.srcObject = stream;
      preview.muted = true;
      preview.play().catch(function () {});
      stream.getVideoTracks().forEach(function (t) { t.onended = function () { stop(); }; });
      await publisher.start(stream);
      sending = true;
      buttons();
      say("");
    } catch (e) {
      say(e && e.message ? e.message : L.media_publish_failed, "bad");
    }
  }
  function stop() { sending = false; if (publisher) publisher.release(); preview.srcObject = null; buttons(); }
  startButton.onclick = go;
  stopButton.onclick = function () { if (window.confirm(L.media_stop_confirm)) stop(); };
  buttons();
  const takeBack = $("floor-take-back");
  if (takeBack) takeBack.onclick = function () { live.send({ type: "floor", session: cfg.session, action: "take_back" }); };
  window.addEventListener("pagehide", function () { if (publisher) publisher.stop(); });
}

async function screenPage() {
  if (cfg.device && !deviceToken()) {
    show($("device-form"), true);
    $("device-form").onsubmit = function (event) {
      event.preventDefault();
      window.localStorage.setItem(TOKEN_KEY, $("device-token").value.trim());
      location.reload();
    };
    return;
  }
  const video = $("media-video");
  const handButton = $("hand");
  const handStatus = $("hand-status");
  const preview = $("media-preview");
  const info = await mediaInfo();
  if (!info) return;
  unmuteButton(video);
  let player = null;
  let publisher = null;
  let raised = false;
  let speaking = false;
  const extra = cfg.device ? {} : { hall: cfg.hall };
  const live = connectHub(function () {
    live.send({ type: "media_watch", session: cfg.session });
    if (!player) { player = new Player(live, video, info); player.start(); }
    publisher = publisher || new Publisher(live, info, extra);
    if (speaking) speak(true);
  }, function (message) {
    if (answered(message)) return;
    if (message.type === "media_state") {
      renderState(message);
      if (player) player.update(message);
      const floor = message.floor || { hands: [] };
      const place = floor.hands.findIndex(function (h) { return h.hall_id === cfg.hall; });
      raised = place >= 0;
      const holder = floor.holder === cfg.hall;
      if (handButton) handButton.textContent = raised ? L.media_lower_hand : L.media_raise_hand;
      if (handStatus) handStatus.textContent = holder ? L.media_you_speak : raised ? fill(L.media_waiting, { n: place + 1 }) : "";
      if (holder !== speaking) speak(holder);
    } else if (message.type === "rtc_error") {
      say(message.message, "bad");
    }
  });
  let mutedBefore = true;
  async function speak(on) {
    speaking = on;
    show($("speaking"), on);
    // while the hall speaks, the programme is the hall itself: its loudspeakers would echo its microphone
    if (on) { mutedBefore = video.muted; video.muted = true; } else { video.muted = mutedBefore; }
    if (!on) { if (publisher) publisher.release(); preview.srcObject = null; return; }
    try {
      const stream = publisher.stream || await capture("camera");
      preview.srcObject = stream;
      preview.muted = true;
      preview.play().catch(function () {});
      await publisher.start(stream);
    } catch (e) { say(e && e.message ? e.message : L.media_publish_failed, "bad"); }
  }
  if (handButton) {
    show(handButton, cfg.two_way);
    handButton.onclick = function () {
      live.send({ type: raised ? "lower_hand" : "raise_hand", session: cfg.session, hall: cfg.device ? undefined : cfg.hall });
    };
  }
  window.hoinghiPlayer = function () { return player; };
}

if (cfg.page === "watch") watchPage();
else if (cfg.page === "present") presentPage();
else if (cfg.page === "screen") screenPage();

