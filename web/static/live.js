// The live hub's browser client, shared by every page that holds a socket (docs/PROTOCOL.md): an ES module,
// `import { Hub, State } from "./live.js"`. It fetches a ticket (or uses a device token), opens the socket,
// says hello first, pings at half the heartbeat the server names, closes a socket it has not heard from,
// reconnects with exponential back-off and jitter, stops on the close codes that say "do not retry", and
// keeps each topic's `seq` and `epoch`: changes are applied in order, a gap re-subscribes with `since`, and
// every reconnect resumes each topic from where it was. Pages keep only their own view logic.

export const VERSION = 1;

/** The connection's state, as `onState` reports it. */
export const State = Object.freeze({
  CONNECTING: "connecting", // getting a ticket, opening the socket, waiting for `welcome`
  OPEN: "open",             // welcomed: messages may be sent
  WAITING: "waiting",       // lost: the next attempt is scheduled (back-off)
  FAILED: "failed",         // closed with a code that says not to retry (4000, 4002, 4003)
  STOPPED: "stopped",       // the page stopped it
});

/** Close codes after which retrying cannot help: unsupported version, malformed message, message too big. */
export const FATAL_CLOSES = Object.freeze([4000, 4002, 4003]);
const AUTH_FAILED = 4001;
const FIRST_DELAY_MS = 1000;
const PING_MAX_MS = 15000;

/** The signed-in session is gone (the ticket endpoint answered 401). */
export class SignedOut extends Error {}

/** Send the browser to the sign-in page, back to this page afterwards. */
export function signIn() {
  window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
}

let csrf = null; // the session's CSRF token, from GET /api/me, shared by the page's clients

/** A short-lived ticket for `hello` (POST /api/live/ticket with the CSRF token); throws SignedOut on 401. */
export async function ticket() {
  for (let tries = 0; tries < 2; tries++) {
    if (!csrf) {
      const me = await fetch("/api/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (me.status === 401) throw new SignedOut();
      if (!me.ok) throw new Error("me " + me.status);
      csrf = (await me.json()).csrf_token;
    }
    const r = await fetch("/api/live/ticket", { method: "POST", credentials: "same-origin",
                                                headers: { "X-CSRF-Token": csrf, Accept: "application/json" } });
    if (r.status === 401) throw new SignedOut();
    if (r.status === 403) { csrf = null; continue; } // a stale CSRF token: fetch a fresh one once
    if (!r.ok) throw new Error("ticket " + r.status);
    return (await r.json()).ticket;
  }
  throw new Error("ticket refused");
}

function socketUrl(path) {
  return (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + path;
}

/**
 * One topic of a hub: its last `seq` and `epoch`. `handlers.snapshot(data, message)` gets a whole state,
 * `handlers.change(data, message)` each change in order, `handlers.subscribed(message)` the acknowledgement
 * of a topic without snapshots, `handlers.error(message)` a refusal (forbidden, not_found, …).
 */
export class Subscription {
  constructor(hub, topic, handlers) {
    this.hub = hub;
    this.topic = topic;
    this.handlers = handlers || {};
    this.seq = null;      // the last seq applied; null until a snapshot
    this.epoch = null;    // the epoch of that snapshot: `since` is honoured only by the same hub process
    this.resuming = false; // a re-subscribe after a gap is under way
  }

  /** Send the subscription, resuming from the last seq when there is one. */
  send() {
    const message = { type: "subscribe", topic: this.topic };
    if (this.seq !== null) {
      message.since = this.seq;
      if (this.epoch) message.epoch = this.epoch;
    }
    this.hub.send(message);
  }

  receive(m) {
    const h = this.handlers;
    if (m.type === "snapshot") {
      this.seq = m.seq;
      this.epoch = m.epoch || (m.data && m.data.epoch) || this.epoch;
      this.resuming = false;
      if (h.snapshot) h.snapshot(m.data, m);
    } else if (m.type === "change") {
      if (this.seq === null || m.seq <= this.seq) return; // before the snapshot, or already applied
      if (m.seq !== this.seq + 1) { // a gap: ask for what was missed (or a fresh snapshot)
        if (!this.resuming) { this.resuming = true; this.send(); }
        return;
      }
      this.seq = m.seq;
      this.resuming = false;
      if (h.change) h.change(m.data, m);
    } else if (m.type === "subscribed") {
      if (h.subscribed) h.subscribed(m);
    } else if (m.type === "resumed") { // the missed changes came: nothing else was missed
      this.resuming = false;
      if (h.resumed) h.resumed(m);
    } else if (m.type === "error") {
      if (h.error) h.error(m);
    }
  }

  /** Stop following the topic. */
  unsubscribe() {
    if (this.hub.topics.get(this.topic) !== this) return;
    this.hub.topics.delete(this.topic);
    this.hub.send({ type: "unsubscribe", topic: this.topic });
  }
}

/**
 * A connection to the live hub that keeps itself open until `stop()`.
 *
 * options:
 *   path         "/ws" (default) or "/media/ws?session=S"
 *   deviceToken  () => a kiosk's or hall screen's token, or null: then a ticket of the signed-in user
 *   maxDelayMs   the longest wait between attempts (default 30 s; the first is 1 s, doubling, ±25 %)
 *   onState      (state, hub) on every change of State
 *   onWelcome    (welcome, hub) once welcomed, after the topics were re-subscribed: send what the page needs
 *   onMessage    (message, hub) every other message (not welcome, pong, nor a subscribed topic's)
 *   onSignedOut  (withDevice, hub) the ticket endpoint said 401, or the server refused the device token
 *                (4001); the client has stopped. Default: to the sign-in page
 */
export class Hub {
  constructor(options) {
    const o = options || {};
    this.path = o.path || "/ws";
    this.deviceToken = o.deviceToken || (() => null);
    this.maxDelayMs = o.maxDelayMs || 30000;
    this.onState = o.onState || (() => {});
    this.onWelcome = o.onWelcome || (() => {});
    this.onMessage = o.onMessage || (() => {});
    this.onSignedOut = o.onSignedOut || (() => signIn());
    this.topics = new Map(); // topic -> Subscription
    this.state = State.STOPPED;
    this.socket = null;
    this.attempt = 0;      // attempts that failed since the last welcome
    this.generation = 0;   // how many times it was welcomed: a page can tell one connection from the next
    this.heartbeatS = 20;
    this.timer = null;     // the next attempt
    this.pinger = null;
    this.lastHeard = 0;
    this.run = 0;          // bumped by start and stop, so that a connect started before is dropped
    this.onOnline = () => { if (this.state === State.WAITING) this.connectNow(); };
  }

  /** Open the connection (again) unless it is already under way. */
  start() {
    if (this.state !== State.STOPPED && this.state !== State.FAILED) return this;
    this.run += 1;
    this.attempt = 0;
    window.addEventListener("online", this.onOnline);
    this.connect(this.run);
    return this;
  }

  /** Close the socket and stop reconnecting. */
  stop() {
    this.run += 1;
    window.removeEventListener("online", this.onOnline);
    this.drop(1000);
    this.setState(State.STOPPED);
  }

  /** Welcomed and the socket open: `send` would go out now. */
  get open() {
    return this.state === State.OPEN && this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /** Bytes queued on the socket and not yet sent. */
  get buffered() { return this.socket ? this.socket.bufferedAmount : 0; }

  /** Send a message (JSON) if welcomed; false when it could not go out. */
  send(message) {
    if (!this.open) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Send a binary message (a kiosk's camera picture) if welcomed; false when it could not go out. */
  sendBinary(data) {
    if (!this.open) return false;
    this.socket.send(data);
    return true;
  }

  /** Follow a topic, now and after every reconnect (see Subscription). */
  subscribe(topic, handlers) {
    const old = this.topics.get(topic);
    if (old) old.unsubscribe();
    const sub = new Subscription(this, topic, handlers);
    this.topics.set(topic, sub);
    if (this.state === State.OPEN) sub.send();
    return sub;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state, this);
  }

  connectNow() {
    clearTimeout(this.timer);
    this.timer = null;
    this.connect(this.run);
  }

  async connect(run) {
    if (run !== this.run) return;
    this.timer = null;
    this.setState(State.CONNECTING);
    const token = this.deviceToken();
    let hello;
    try {
      hello = token ? { type: "hello", v: VERSION, device_token: token }
        : { type: "hello", v: VERSION, ticket: await ticket() };
    } catch (e) {
      if (run !== this.run) return;
      if (e instanceof SignedOut) { this.signedOut(false); return; }
      this.retry();
      return;
    }
    if (run !== this.run) return; // stopped (or restarted) while the ticket came
    const socket = new WebSocket(socketUrl(this.path));
    this.socket = socket;
    socket.onopen = () => {
      this.lastHeard = Date.now();
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      this.lastHeard = Date.now();
      if (typeof event.data !== "string") return;
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      this.handle(message);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.drop();
      if (FATAL_CLOSES.indexOf(event.code) >= 0) { this.setState(State.FAILED); return; }
      if (event.code === AUTH_FAILED && hello.device_token) { this.signedOut(true); return; }
      this.retry(); // 4001 on a ticket: a new ticket, then reconnect; anything else: reconnect and resume
    };
  }

  handle(m) {
    if (m.type === "welcome") {
      this.attempt = 0;
      this.generation += 1;
      this.heartbeatS = m.heartbeat_s || this.heartbeatS;
      this.startPinging();
      this.setState(State.OPEN);
      this.topics.forEach((sub) => { sub.resuming = false; sub.send(); });
      this.onWelcome(m, this);
      return;
    }
    if (m.type === "pong" || m.type === "unsubscribed") return;
    const sub = m.topic !== undefined ? this.topics.get(m.topic) : undefined;
    if (m.type === "snapshot" || m.type === "change" || m.type === "subscribed" || m.type === "resumed" ||
        (m.type === "error" && m.topic)) {
      if (sub) sub.receive(m); // a topic already left: nothing to do
      return;
    }
    this.onMessage(m, this);
  }

  startPinging() {
    clearInterval(this.pinger);
    const every = Math.min(PING_MAX_MS, this.heartbeatS * 500);
    this.pinger = setInterval(() => {
      if (Date.now() - this.lastHeard > 3 * every + 5000) { // a silent socket: start over
        if (this.socket) this.socket.close();
        return;
      }
      this.send({ type: "ping" });
    }, every);
  }

  drop(code) {
    clearInterval(this.pinger);
    clearTimeout(this.timer);
    this.pinger = null;
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (code && socket) socket.close(code);
  }

  retry() {
    if (this.timer || this.state === State.STOPPED) return;
    const delay = Math.min(this.maxDelayMs, FIRST_DELAY_MS * Math.pow(2, this.attempt)) * (0.75 + Math.random() * 0.5);
    this.attempt = Math.min(this.attempt + 1, 10);
    this.setState(State.WAITING);
    const run = this.run;
    this.timer = setTimeout(() => this.connect(run), delay); // jitter: not every client at once
  }

  signedOut(withDevice) {
    this.stop();
    this.onSignedOut(withDevice, this);
  }
}
