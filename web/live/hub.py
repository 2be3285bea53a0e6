"""The hub: WebSocket subscribers, topics, coalesced pushes, presence, and the bus between processes.

- A committed change reaches the hub from the ledger (this process) or the bus (other processes),
  is applied to the session's tally, and is pushed at most 5 times a second per topic: one frame,
  encoded once, written to every subscriber's socket (web/live/wire.py).
- What waits for a connection is bounded; a client that cannot keep up is closed (4009) and never
  holds anyone else back.
- Each session's tally is rebuilt from the store when first needed, every 60 s, and when the bus
  reconnects: the store is the truth, the bus only makes it fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from attendance.checkins import Method
from attendance.devices import Device
from attendance.headcounts import Headcount
from attendance.ledger import Committed, Ledger
from attendance.rules import Scan
from conference.accounts import Action, Role, User, in_scope, may
from conference.service import ConferenceService
from web.live.bus import Bus
from web.live.protocol import HEARTBEAT_S, TOPICS_MAX, Close, Topic, TopicKind, frame, parse_topic
from web.live.tally import RECENT_MAX, Arrival, HallInfo, Invitee, Reported, SessionTally
from web.live.wire import Wire, encode
from web.usecases.facts import ConferenceFacts

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
RESYNC_SECONDS = 60.0  # a safety net: a lost bus message also makes every hub resync at once
PRESENCE_SECONDS = 2.0
HALL_EXPIRY = timedelta(seconds=60)
SEEN_PERSIST_SECONDS = 30.0
VIEWERS_PUBLISH_SECONDS = 5.0
VIEWERS_EXPIRY = 15.0
QUEUE_MAX = 64  # frames waiting for a client sent through ASGI
WIRE_BUFFER_MAX = 512 * 1024  # bytes waiting for a client written to its Wire
CLOSE_SECONDS = 5.0  # a close frame a client does not take in this time: the connection is dropped
FANOUT_SLICE_SECONDS = 0.025  # writing to subscribers this long, then the loop serves others
FANOUT_STEP = 200  # subscribers written to between looks at the clock
HISTORY = 256
TOPIC_IDLE_SECONDS = 300.0
ONLINE_CHECK_SECONDS = 1.0
WATCH_STORE_SECONDS = 10.0
ONLINE_RETRY_SECONDS = 3.0
LEFT_AFTER_SECONDS = 3 * HEARTBEAT_S


_BACKGROUND: set[asyncio.Task[Any]] = set()


def spawn(work: Coroutine[Any, Any, Any]) -> None:
    """Run `work` in the background, holding a reference until it ends."""
    task = asyncio.create_task(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


class Conn:
    """One WebSocket client: who it is, what it reads, and how frames reach it: written to its `Wire`
    when the server offers one, else through a bounded send queue. Either way a client that does not
    keep up is closed as a slow consumer and holds nobody else back."""

    __slots__ = ("_close", "_send", "closing", "device", "last_ping", "queue", "sender", "topics", "user", "wire")

    def __init__(self, send: Callable[[str], Awaitable[None]], close: Callable[[int, str], Coroutine[Any, Any, None]],
                 user: User | None, device: Device | None, wire: Wire | None = None) -> None:
        self._send = send
        self._close = close
        self.user = user
        self.device = device
        self.wire = wire
        self.topics: set[str] = set()
        self.queue: deque[str] | None = None if wire is not None else deque()  # 0.6 KiB, unused with a wire
        self.last_ping = time.monotonic()
        self.closing = False
        self.sender: asyncio.Task[None] | None = None

    def push(self, text: str, encoded: bytes | None = None) -> None:
        """Send a frame (`encoded`: the same, already encoded by `wire.encode`, for a frame many receive)."""
        if self.closing:
            return
        if self.wire is not None:
            waiting = self.wire.write(encoded if encoded is not None else encode(text))
            if waiting is None:
                self.closing = True  # the socket is closing; the endpoint's receive loop ends the connection
            elif waiting > WIRE_BUFFER_MAX:
                self.close_soon(Close.SLOW_CONSUMER, "slow consumer")
            return
        assert self.queue is not None
        if len(self.queue) >= QUEUE_MAX:
            self.close_soon(Close.SLOW_CONSUMER, "slow consumer")
            return
        self.queue.append(text)
        if self.sender is None or self.sender.done():
            self.sender = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.queue and not self.closing:
                await self._send(self.queue.popleft())
        except Exception:  # the socket is gone; the endpoint's receive loop ends the connection
            self.closing = True

    def close_soon(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            if self.queue is not None:
                self.queue.clear()
            spawn(self._closing(code, reason))

    async def _closing(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self._close(code, reason), CLOSE_SECONDS)
        except TimeoutError:
            if self.wire is not None:
                self.wire.abort()


@dataclass
class TopicState:
    topic: Topic
    seq: int = 0
    subscribers: set[Conn] = field(default_factory=set)
    history: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    idle_since: float = 0.0  # monotonic time the last subscriber left
    snapshot: tuple[tuple[int, int], str, bytes] | None = None  # ((seq, viewers), frame, encoded) until a flush


@dataclass
class LiveSession:
    session_id: int
    conference_id: int
    tally: SessionTally
    topics: dict[str, TopicState] = field(default_factory=dict)
    remote_viewers: dict[str, tuple[int, float]] = field(default_factory=dict)
    viewers_shown: int = -1
    journal: list[dict[str, Any]] | None = None  # changes applied while a resync reads the store


class Watching:
    """How long each participant has watched each session (from their viewer pings), pure bookkeeping.

    Seconds watched here are `pending` until handed to the store (`take`), which adds them to what the
    other hubs counted and answers the totals (`stored`): a viewer moved to another hub goes on counting."""

    def __init__(self, online_after_seconds: float) -> None:
        self.online_after = online_after_seconds
        self.stored_seconds: dict[tuple[int, int], float] = {}
        self.pending_seconds: dict[tuple[int, int], float] = {}
        self.last: dict[tuple[int, int], float] = {}
        self.present: set[tuple[int, int]] = set()
        self.pending: set[tuple[int, int]] = set()

    def watched(self, session_id: int, person_id: int, seconds: float, now: float) -> None:
        key = (session_id, person_id)
        self.pending_seconds[key] = self.pending_seconds.get(key, 0.0) + max(seconds, 0.0)
        self.last[key] = now

    def seconds(self, key: tuple[int, int]) -> float:
        return self.stored_seconds.get(key, 0.0) + self.pending_seconds.get(key, 0.0)

    def take(self) -> dict[tuple[int, int], float]:
        """The seconds not yet stored; `stored` (or `restore`, when the store failed) follows."""
        taken, self.pending_seconds = self.pending_seconds, {}
        return taken

    def stored(self, totals: dict[tuple[int, int], float]) -> None:
        for key, total in totals.items():
            if key in self.last:  # not gone meanwhile
                self.stored_seconds[key] = total

    def restore(self, taken: dict[tuple[int, int], float]) -> None:
        for key, seconds in taken.items():
            if key in self.last:
                self.pending_seconds[key] = self.pending_seconds.get(key, 0.0) + seconds

    def due(self, now: float) -> list[tuple[int, int]]:
        """Viewers who reached the threshold and are not yet checked in (each handed out once)."""
        out = [k for k in self.last if k not in self.present and k not in self.pending
               and self.seconds(k) >= self.online_after]
        self.pending.update(out)
        return out

    def checked_in(self, session_id: int, person_id: int) -> None:
        self.pending.discard((session_id, person_id))
        self.present.add((session_id, person_id))

    def retry(self, session_id: int, person_id: int) -> None:
        self.pending.discard((session_id, person_id))

    def gone(self, now: float, after: float) -> list[tuple[int, int]]:
        """Checked-in viewers silent for `after` seconds (each handed out once)."""
        silent = [k for k, last in self.last.items() if now - last > after]
        out = [k for k in silent if k in self.present]
        for key in silent:  # forgotten here; their seconds are in the store (or about to be)
            self.present.discard(key)
            self.stored_seconds.pop(key, None)
            del self.last[key]
        return out


class Hub:
    def __init__(self, hub_id: str, bus: Bus, conference: ConferenceService, facts: ConferenceFacts,
                 ledger: Ledger, zone: Any, online_after_seconds: float = 600.0) -> None:
        self.hub_id = hub_id
        self.epoch = f"{hub_id}-{int(time.time())}"
        self.bus = bus
        self.conference = conference
        self.facts = facts
        self.ledger = ledger
        self.zone = zone
        self.sessions: dict[int, LiveSession] = {}
        self.conns: set[Conn] = set()
        self._loading: dict[int, asyncio.Lock] = {}
        self._hall_seen: dict[int, datetime] = {}
        self._seen_published: dict[int, float] = {}
        self._seen_persisted: dict[int, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._resync_now = asyncio.Event()
        self._owe_resync = False
        self.watching = Watching(online_after_seconds)
        self.left_after_seconds = LEFT_AFTER_SECONDS  # silence after which a viewer has left
        self._online_paused_until = 0.0  # online check-ins wait after the store failed one

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.bus.start(self._on_bus, self._resync_now.set)
        self.ledger.listeners.append(self._on_commit)
        for loop, name in ((self._flush_loop, "flush"), (self._resync_loop, "resync"), (self._online_loop, "online"),
                           (self._presence_loop, "presence"), (self._viewers_loop, "viewers"),
                           (self._heartbeat_loop, "heartbeat")):
            self._tasks.append(asyncio.create_task(loop(), name=f"hub-{name}"))

    async def stop(self) -> None:
        for conn in list(self.conns):
            conn.close_soon(Close.GOING_AWAY, "hub shutting down")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._store_watch_time()
        if self._on_commit in self.ledger.listeners:
            self.ledger.listeners.remove(self._on_commit)
        await self.bus.stop()

    # -- connections --------------------------------------------------------------------------------
    def register(self, conn: Conn) -> None:
        self.conns.add(conn)

    def disconnect(self, conn: Conn) -> None:
        self.conns.discard(conn)
        conn.closing = True
        for name in list(conn.topics):
            self.unsubscribe(conn, name)

    def ping(self, conn: Conn) -> str:
        now = time.monotonic()
        watched = min(now - conn.last_ping, 2 * HEARTBEAT_S)
        conn.last_ping = now
        if conn.device is not None:
            self._saw_hall(conn.device.hall_id, datetime.now(UTC))
        if conn.user is not None and conn.user.person_id is not None:
            for name in conn.topics:
                topic = parse_topic(name)
                if topic is not None and topic.kind is TopicKind.VIEWER:
                    self.watching.watched(topic.session_id, conn.user.person_id, watched, now)
        return frame("pong", t=int(time.time()))

    async def subscribe(self, conn: Conn, name: str, since: int | None, epoch: str | None) -> None:
        topic = parse_topic(name)
        if topic is None:
            conn.push(frame("error", code="bad_topic", topic=name, message="unknown topic"))
            return
        if len(conn.topics) >= TOPICS_MAX and name not in conn.topics:
            conn.push(frame("error", code="too_many_topics", topic=name, message=f"at most {TOPICS_MAX} topics"))
            return
        try:
            live = await self._session(topic.session_id)
            allowed = await self._may_read(conn, topic, live)
        except Exception as e:
            if getattr(e, "code", None) != "not_found":
                raise
            conn.push(frame("error", code="not_found", topic=name, message="no such session, unit or hall"))
            return
        if not allowed:
            conn.push(frame("error", code="forbidden", topic=name, message="not allowed to read this topic"))
            return
        state = live.topics.setdefault(str(topic), TopicState(topic))
        state.subscribers.add(conn)
        conn.topics.add(str(topic))
        if topic.kind is TopicKind.VIEWER:
            conn.push(frame("subscribed", topic=str(topic)))
            return
        missed = [f for seq, f in state.history if since is not None and seq > since]
        if epoch == self.epoch and since is not None and since <= state.seq and \
                (since == state.seq or (missed and len(missed) == state.seq - since)):
            for text in missed:
                conn.push(text)
            return
        viewers = self._viewers(live)
        if state.snapshot is None or state.snapshot[0] != (state.seq, viewers):
            # one snapshot per topic between flushes, however many subscribe: whatever changed since it
            # was built is in the next change frame, which lists every field changed since the last one
            text = frame("snapshot", topic=str(topic), seq=state.seq, epoch=self.epoch,
                         data=self._snapshot(live, topic, viewers))
            state.snapshot = ((state.seq, viewers), text, encode(text))
        conn.push(state.snapshot[1], state.snapshot[2])

    def unsubscribe(self, conn: Conn, name: str) -> None:
        conn.topics.discard(name)
        topic = parse_topic(name)
        live = self.sessions.get(topic.session_id) if topic else None
        if live is not None and name in live.topics:
            state = live.topics[name]
            state.subscribers.discard(conn)
            if not state.subscribers:
                state.idle_since = time.monotonic()

    def _forget_idle_topics(self) -> None:
        """Topics nobody has read for a while are dropped; a late resume then gets a snapshot."""
        limit = time.monotonic() - TOPIC_IDLE_SECONDS
        for live in self.sessions.values():
            for name in [n for n, s in live.topics.items() if not s.subscribers and s.idle_since < limit]:
                del live.topics[name]

    # -- authorisation ------------------------------------------------------------------------------
    async def _may_read(self, conn: Conn, topic: Topic, live: LiveSession) -> bool:
        if topic.kind is TopicKind.HALL:
            hall = await self.conference.store.get_hall(topic.target)
            if hall.conference_id != live.conference_id:
                return False
            if conn.device is not None:
                return conn.device.hall_id == hall.id
            return conn.user is not None and may(conn.user, Action.VIEW_ATTENDANCE) and \
                in_scope(conn.user, hall.unit_id, live.tally.tree)
        if conn.user is None:
            return False
        if topic.kind is TopicKind.UNIT:
            live.tally.tree.get(topic.target)  # NotFound for a unit not in the session's tree
            return may(conn.user, Action.VIEW_ATTENDANCE) and in_scope(conn.user, topic.target, live.tally.tree)
        person = conn.user.person_id
        return conn.user.role is Role.ADMIN or (
            person is not None and person in await self.facts.invited(live.conference_id))

    # -- sessions -----------------------------------------------------------------------------------
    async def _session(self, session_id: int) -> LiveSession:
        live = self.sessions.get(session_id)
        if live is not None:
            return live
        async with self._loading.setdefault(session_id, asyncio.Lock()):
            live = self.sessions.get(session_id)
            if live is None:
                live = self.sessions[session_id] = await self._load(session_id)
            return live

    async def _load(self, session_id: int) -> LiveSession:
        store = self.conference.store
        session = await store.get_session(session_id)
        day = session.starts_at.astimezone(self.zone).date()
        tree = await self.conference.tree(day)
        halls = await store.halls_of(session.conference_id)
        invited = await self.facts.invited(session.conference_id)
        persons = await store.persons_by_ids(list(invited))
        checkins = await self.ledger.checkins(session_id)
        tally = SessionTally(
            {"id": session.id, "title": session.title, "starts_at": session.starts_at.isoformat()}, tree,
            [HallInfo(h.id, h.name, h.unit_id, h.level, h.channel.value) for h in halls],
            {p: Invitee(hall, persons[p].unit_id, not persons[p].exempt)
             for p, hall in invited.items() if p in persons},
            {c.person_id: c.status.value for c in checkins}, await self._reported(session_id))
        arrivals = sorted((Arrival(c.person_id, c.server_time, c.hall_id, c.method.value) for c in checkins
                           if c.present), key=lambda a: a.at)
        cards = await self.facts.cards([a.person_id for a in arrivals[-RECENT_MAX:]])
        tally.load_history(arrivals, {p: card.full_name for p, card in cards.items()})
        for h in halls:
            if h.last_seen_at is not None:
                self._hall_seen[h.id] = max(h.last_seen_at, self._hall_seen.get(h.id, h.last_seen_at))
        live = LiveSession(session.id, session.conference_id, tally)
        self._update_presence(live)
        tally.take_changes()
        return live

    async def _durable(self, session_id: int) -> tuple[dict[int, str], dict[int, Reported]]:
        return await self.ledger.statuses(session_id), await self._reported(session_id)

    async def _reported(self, session_id: int) -> dict[int, Reported]:
        return {h.hall_id: Reported(h.expected, h.present, h.absent_excused, h.absent_unexcused)
                for h in await self.ledger.store.headcounts_of(session_id)}

    def _snapshot(self, live: LiveSession, topic: Topic, viewers: int) -> dict[str, Any]:
        if topic.kind is TopicKind.HALL:
            return live.tally.hall_snapshot(topic.target)
        return live.tally.unit_snapshot(topic.target, viewers)

    # -- changes: from the ledger, over the bus, to the tallies ---------------------------------------
    def _on_commit(self, changes: list[Committed | Headcount]) -> None:
        spawn(self._publish(changes))

    async def _publish(self, changes: list[Committed | Headcount]) -> None:
        people = [c.person_id for c in changes if isinstance(c, Committed)]
        try:
            cards = await self.facts.cards(people) if people else {}
        except Exception as e:  # the store is away: the change goes out all the same, without names
            log.warning("names of %d check-ins not read: %s", len(people), e)
            cards = {}
        items: list[dict[str, Any]] = []
        for c in changes:
            if isinstance(c, Headcount):
                items.append({"k": "h", "s": c.session_id, "h": c.hall_id,
                              "r": [c.expected, c.present, c.absent_excused, c.absent_unexcused]})
                continue
            ci = c.checkin
            card = cards.get(c.person_id)
            items.append({"k": "c", "s": c.session_id, "p": c.person_id, "st": ci.status.value if ci else None,
                          "at": ci.server_time.isoformat() if ci else None, "h": ci.hall_id if ci else None,
                          "m": ci.method.value if ci else "", "n": card.full_name if card else ""})
        self._apply(items)  # this hub at once; the others through the bus
        await self._send(items)

    async def _send(self, items: list[dict[str, Any]]) -> None:
        """Publish to the other hubs. A message the bus drops is made good by asking every hub to resync
        from the store as soon as the bus carries messages again."""
        text = json.dumps({"hub": self.hub_id, "items": items}, ensure_ascii=False, separators=(",", ":"))
        if self._owe_resync:
            self._owe_resync = not await self.bus.publish(json.dumps({"hub": self.hub_id,
                                                                      "items": [{"k": "resync"}]}))
        if not await self.bus.publish(text):
            self._owe_resync = True

    def _on_bus(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("bad bus message ignored")
            return
        if message.get("hub") != self.hub_id:
            self._apply(message.get("items", []))

    def _apply(self, items: list[dict[str, Any]], replay: bool = False) -> None:
        for item in items:
            kind = item.get("k")
            live = self.sessions.get(item.get("s", -1))
            if live is not None and live.journal is not None and kind in ("c", "h") and not replay:
                live.journal.append(item)
            if kind == "c" and live is not None:
                at = datetime.fromisoformat(item["at"]) if item.get("at") else None
                live.tally.apply(item["p"], item["st"], at, item.get("n", ""), item.get("h"), item.get("m", ""),
                                 replay=replay)
            elif kind == "h" and live is not None:
                live.tally.report(item["h"], Reported(*item["r"]))
            elif kind == "p":
                self._hall_seen[item["h"]] = max(datetime.fromisoformat(item["at"]),
                                                 self._hall_seen.get(item["h"], datetime.min.replace(tzinfo=UTC)))
            elif kind == "resync":
                self._resync_now.set()
            elif kind == "v" and item.get("hub") != self.hub_id:
                for sid, n in item.get("n", {}).items():
                    target = self.sessions.get(int(sid))
                    if target is not None:
                        target.remote_viewers[item["hub"]] = (n, time.monotonic() + VIEWERS_EXPIRY)

    # -- the loops ----------------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        """A flush every FLUSH_SECONDS, start to start: the time a fan-out takes is not added to the wait
        (when it takes longer, the next flush follows at once: coalescing grows with the load)."""
        due = time.monotonic()
        while True:
            due = max(due + FLUSH_SECONDS, time.monotonic())
            await asyncio.sleep(due - time.monotonic())
            for live in list(self.sessions.values()):
                try:
                    for text, subscribers in self._flush(live):
                        await self._fan_out(text, subscribers)
                except Exception:
                    log.exception("flush of session %s failed", live.session_id)

    def _flush(self, live: LiveSession) -> list[tuple[str, list[Conn]]]:
        """The session's change frames since the last flush, each with the subscribers it goes to."""
        viewers = self._viewers(live)
        viewers_changed = viewers != live.viewers_shown
        if live.tally.changes.empty() and not viewers_changed:
            return []
        live.viewers_shown = viewers
        changes = live.tally.take_changes()
        out = []
        for name, state in live.topics.items():
            state.snapshot = None
            if state.topic.kind is TopicKind.VIEWER:
                continue  # a topic without subscribers still records its changes: a client may resume
            if state.topic.kind is TopicKind.UNIT:
                data = live.tally.unit_change(state.topic.target, changes, viewers, viewers_changed)
            else:
                data = live.tally.hall_change(state.topic.target, changes)
            if not data:
                continue
            state.seq += 1
            text = frame("change", topic=name, seq=state.seq, data=data)
            state.history.append((state.seq, text))
            out.append((text, list(state.subscribers)))
        return out

    @staticmethod
    async def _fan_out(text: str, subscribers: list[Conn]) -> None:
        """One frame to many, encoded once; after each FANOUT_SLICE_SECONDS of writing the loop serves the
        rest (check-ins keep being answered while 10,000 dashboards are written to)."""
        encoded = encode(text)
        started = time.perf_counter()
        for start in range(0, len(subscribers), FANOUT_STEP):
            if time.perf_counter() - started > FANOUT_SLICE_SECONDS:
                await asyncio.sleep(0)
                started = time.perf_counter()
            for conn in subscribers[start:start + FANOUT_STEP]:
                conn.push(text, encoded)

    async def _resync_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._resync_now.wait(), RESYNC_SECONDS)
            self._resync_now.clear()
            self._forget_idle_topics()
            for live in list(self.sessions.values()):
                live.journal = []
                try:
                    durable = await self._durable(live.session_id)
                except Exception as e:  # the store is down: try again next round
                    log.warning("resync of session %s failed: %s", live.session_id, e)
                    continue
                finally:
                    journal, live.journal = live.journal, None
                live.tally.resync(*durable)
                self._apply(journal, replay=True)  # what arrived during the read may be missing from it

    def _saw_hall(self, hall_id: int, at: datetime) -> None:
        self._hall_seen[hall_id] = at
        now = time.monotonic()
        if now - self._seen_published.get(hall_id, 0) >= PRESENCE_SECONDS * 2:
            self._seen_published[hall_id] = now
            spawn(self._send([{"k": "p", "h": hall_id, "at": at.isoformat()}]))
        if now - self._seen_persisted.get(hall_id, 0) >= SEEN_PERSIST_SECONDS:
            self._seen_persisted[hall_id] = now
            spawn(self._persist_seen(hall_id, at))

    async def _persist_seen(self, hall_id: int, at: datetime) -> None:
        try:
            await self.conference.store.set_hall_seen(hall_id, at)
        except Exception as e:
            log.warning("could not record hall %s heartbeat: %s", hall_id, e)

    def _update_presence(self, live: LiveSession) -> None:
        now = datetime.now(UTC)
        for hall_id in live.tally.halls:
            seen = self._hall_seen.get(hall_id)
            state = "unknown" if seen is None else "online" if now - seen <= HALL_EXPIRY else "offline"
            live.tally.connect(hall_id, state, seen)

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_SECONDS)
            for live in list(self.sessions.values()):
                self._update_presence(live)

    def _local_viewers(self, live: LiveSession) -> int:
        state = live.topics.get(f"session:{live.session_id}/viewer")
        if state is None:
            return 0
        return len({c.user.person_id or -c.user.id for c in state.subscribers if c.user is not None})

    def _viewers(self, live: LiveSession) -> int:
        now = time.monotonic()
        remote = sum(n for n, expires in live.remote_viewers.values() if expires > now)
        return self._local_viewers(live) + remote

    async def _viewers_loop(self) -> None:
        while True:
            await asyncio.sleep(VIEWERS_PUBLISH_SECONDS)
            counts = {str(s): self._local_viewers(live) for s, live in self.sessions.items()}
            if counts:
                await self._send([{"k": "v", "hub": self.hub_id, "n": counts}])

    async def _online_loop(self) -> None:
        """Viewers who watched long enough (on any hub) become present online; those who then leave are
        flagged. What was watched here goes to the store every WATCH_STORE_SECONDS."""
        stored_at = time.monotonic()
        while True:
            await asyncio.sleep(ONLINE_CHECK_SECONDS)
            now = time.monotonic()
            if now - stored_at >= WATCH_STORE_SECONDS:
                stored_at = now
                await self._store_watch_time()
            for session_id, person_id in self.watching.due(now) if now >= self._online_paused_until else ():
                spawn(self._check_in_online(session_id, person_id))
            for session_id, person_id in self.watching.gone(now, self.left_after_seconds):
                spawn(self._left(session_id, person_id))

    async def _store_watch_time(self) -> None:
        taken = self.watching.take()
        if not taken:
            return
        try:
            self.watching.stored(await self.ledger.watched(taken, self.epoch))
        except Exception as e:  # the store is down: the seconds wait for the next round
            log.warning("watch time of %s viewers not stored: %s", len(taken), e)
            self.watching.restore(taken)

    async def _check_in_online(self, session_id: int, person_id: int) -> None:
        scan = Scan(session_id, None, Method.ONLINE, datetime.now(UTC), nonce=f"online-{session_id}-{person_id}")
        try:
            verdict = await self.ledger.scan(scan, person_id=person_id)
        except Exception as e:  # the store is down: try again in a while
            if time.monotonic() >= self._online_paused_until:
                log.warning("online check-ins wait %.0f s: %s", ONLINE_RETRY_SECONDS, e)
            self._online_paused_until = time.monotonic() + ONLINE_RETRY_SECONDS
            self.watching.retry(session_id, person_id)
            return
        if verdict.accepted:
            self.watching.checked_in(session_id, person_id)

    async def _left(self, session_id: int, person_id: int) -> None:
        try:
            session = await self.conference.store.get_session(session_id)
            await self._store_watch_time()  # so that the last writer is another hub only if they moved there
            moved = await self.ledger.watching_elsewhere(session_id, person_id, self.epoch)
            if datetime.now(UTC) < session.ends_at and not moved:
                await self.ledger.flag_left_early(session_id, person_id)
        except Exception as e:
            log.warning("left-early flag of person %s failed: %s", person_id, e)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S / 2)
            limit = time.monotonic() - 3 * HEARTBEAT_S
            for conn in list(self.conns):
                if conn.last_ping < limit:
                    conn.close_soon(Close.NO_HEARTBEAT, "no heartbeat")
