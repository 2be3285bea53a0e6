"""The hub: one per process, composing the live parts around the WebSocket endpoint's connections.

- connections (web/live/connections.py): each client, its bounded sending, its closing;
- sessions (sessions.py): each session's tally, built from the store and resynced from it;
- topics (topics.py): subscriptions, snapshots, the coalesced flush and fan-out;
- presence (presence.py): halls seen, viewer counts;
- the bus codec (codec.py): what goes to the other hubs and how theirs is applied;
- online attendance (watching.py): viewers' watch time, present online, left early;
- who each connection is (identity.py): tickets, re-reading users and devices, `end` on every hub;
- the store feed (feed.py): while the bus is down, the other hubs' check-ins read from the store.

A committed change reaches the hub from the ledger (this process), the bus (other processes) or, while
the bus is down, the store feed; it is applied to the session's tally, and is pushed at most 5 times a
second per topic. Who may read a topic is decided here (`_may_read`), from cached facts before a
session's state is built (`_may_load`); a session nobody has read for SESSION_IDLE_SECONDS is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from attendance.headcounts import Headcount
from attendance.ledger import Committed, Ledger
from conference.accounts import Action, Role, in_scope, may
from conference.errors import Forbidden
from conference.service import ConferenceService
from web.live import topics
from web.live.bus import Bus
from web.live.codec import Item, Relay, change_items, end_item, hall_seen_item, viewers_item
from web.live.connections import Conn, spawn
from web.live.feed import StoreFeed
from web.live.identity import RECHECK_SECONDS, Identity
from web.live.presence import PRESENCE_SECONDS, VIEWERS_PUBLISH_SECONDS, Presence
from web.live.protocol import HEARTBEAT_S, TOPICS_MAX, Close, Topic, TopicKind, frame, parse_topic
from web.live.sessions import RESYNC_SECONDS, Sessions
from web.live.topics import FLUSH_SECONDS, LiveSession, idle
from web.live.watching import OnlineAttendance
from web.media.viewing import MediaFacts
from web.usecases.facts import ConferenceFacts

log = logging.getLogger(__name__)

SESSION_IDLE_SECONDS = 120.0  # a session without a subscriber this long is dropped (loaded again when asked)


class Hub:
    """The live hub of this process: `start` it once, `register` each connection, hand it each message."""

    def __init__(self, hub_id: str, bus: Bus, conference: ConferenceService, facts: ConferenceFacts,
                 ledger: Ledger, zone: Any, identity: Identity, online_after_seconds: float = 600.0,
                 viewing: MediaFacts | None = None) -> None:
        self.hub_id = hub_id
        self.epoch = f"{hub_id}-{int(time.time())}"
        self.conference = conference
        self.facts = facts
        self.identity = identity
        self.ledger = ledger
        self.conns: set[Conn] = set()
        self._resync_now = asyncio.Event()
        self.presence = Presence(conference, lambda hall, at: spawn(self.relay.send([hall_seen_item(hall, at)])))
        self.sessions = Sessions(conference, facts, ledger, zone, self.presence)
        self.relay = Relay(hub_id, bus, self.sessions.live, self.presence, self._resync_now.set, self._ended)
        self.online = OnlineAttendance(ledger, conference, self.epoch, online_after_seconds, viewing)
        self.feed = StoreFeed(ledger.store, bus, lambda: list(self.sessions.live), self._read_from_store)
        self._tasks: list[asyncio.Task[None]] = []
        # told the users ended here or on another hub (over the bus): the media service closes their peers
        self.users_ended: list[Callable[[set[int]], None]] = []

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.relay.bus.start(self.relay.received, self._resync_now.set)
        self.ledger.listeners.append(self._on_commit)
        loops: list[tuple[Callable[[], Coroutine[Any, Any, None]], str]] = [
            (self._flush_loop, "flush"), (self._resync_loop, "resync"), (self.online.run, "online"),
            (self._presence_loop, "presence"), (self._viewers_loop, "viewers"), (self._heartbeat_loop, "heartbeat"),
            (self._recheck_loop, "recheck"), (self.feed.run, "feed")]
        for loop, name in loops:
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
            await self.online.store_watch_time()
        if self._on_commit in self.ledger.listeners:
            self.ledger.listeners.remove(self._on_commit)
        await self.relay.bus.stop()

    # -- connections --------------------------------------------------------------------------------
    def register(self, conn: Conn) -> None:
        """A connection said hello; a kiosk's hall shows online from now on (not from its first ping)."""
        self.conns.add(conn)
        if conn.device is not None:
            self.presence.saw_hall(conn.device.hall_id, datetime.now(UTC))

    def disconnect(self, conn: Conn) -> None:
        self.conns.discard(conn)
        conn.closing = True
        for name in list(conn.topics):
            self.unsubscribe(conn, name)

    async def end(self, users: list[int] = [], devices: list[int] = []) -> None:  # noqa: B006 (never changed)
        """Accounts deactivated, devices revoked: their connections closed (4001) here and on every hub."""
        self._ended(users, devices)
        await self.relay.send([end_item(users, devices)])

    def _ended(self, users: list[int], devices: list[int]) -> None:
        gone_users, gone_devices = set(users), set(devices)
        for listener in self.users_ended if gone_users else ():
            listener(gone_users)
        for device_id in gone_devices:
            self.identity.devices.forget(device_id)
        for conn in list(self.conns):
            if (conn.user is not None and conn.user.id in gone_users) or \
                    (conn.device is not None and conn.device.id in gone_devices):
                conn.close_soon(Close.BAD_AUTH, "revoked")

    def ping(self, conn: Conn) -> str:
        """A client's ping: its heartbeat, its hall's presence, a participant's watch time; the pong (saying,
        to a viewer, whether it counted as watching)."""
        now = time.monotonic()
        since_last, conn.last_ping = now - conn.last_ping, now
        if conn.device is not None:
            self.presence.saw_hall(conn.device.hall_id, datetime.now(UTC))
        watched = self.online.pinged(conn, since_last, now)
        return frame("pong", t=int(time.time()), **watched)

    async def subscribe(self, conn: Conn, name: str, since: int | None, epoch: str | None) -> None:
        """Subscribe to a topic, or answer with an `error` frame why not (the connection stays open).

        Raises NotFound for a session, unit or hall that does not exist (the endpoint answers it)."""
        topic = parse_topic(name)
        if topic is None:
            conn.push(frame("error", code="bad_topic", topic=name, message="unknown topic"))
            return
        if len(conn.topics) >= TOPICS_MAX and name not in conn.topics:
            conn.push(frame("error", code="too_many_topics", topic=name, message=f"at most {TOPICS_MAX} topics"))
            return
        if not await self._may_load(conn, topic) or not self._may_read(
                conn, topic, live := await self.sessions.get(topic.session_id)):
            conn.push(frame("error", code="forbidden", topic=name, message="not allowed to read this topic"))
            return
        topics.join(live, topic, conn, since, epoch, self.epoch, lambda: self.presence.viewers(live))

    def unsubscribe(self, conn: Conn, name: str) -> None:
        topic = parse_topic(name)
        topics.leave(self.sessions.live.get(topic.session_id) if topic else None, conn, name)

    # -- authorisation ------------------------------------------------------------------------------
    async def _may_load(self, conn: Conn, topic: Topic) -> bool:
        """Whether `conn` may read the topic as far as cached facts tell, before the session's state is
        built (NotFound for a session or hall that does not exist): a kiosk its own hall, and the session's
        totals (counts only) when its hall takes part in the session; a participant a conference they are
        invited to; staff a conference that concerns them (and so its totals)."""
        rules = await self.facts.session_rules(topic.session_id)
        if topic.kind is TopicKind.HALL and not await self.facts.hall_in_session(topic.target, topic.session_id):
            return False
        if conn.device is not None:
            if topic.kind is TopicKind.TOTALS:
                return await self.facts.hall_in_session(conn.device.hall_id, topic.session_id)
            return topic.kind is TopicKind.HALL and conn.device.hall_id == topic.target
        if conn.user is None:
            return False
        if topic.kind is TopicKind.VIEWER:
            person = conn.user.person_id
            return conn.user.role is Role.ADMIN or (
                person is not None and person in await self.facts.invited(rules.conference_id))
        if not may(conn.user, Action.VIEW_ATTENDANCE):
            return False
        try:
            await self.conference.conference(conn.user, rules.conference_id)
        except Forbidden:
            return False
        return True

    @staticmethod
    def _may_read(conn: Conn, topic: Topic, live: LiveSession) -> bool:
        """docs/PROTOCOL.md section 2, once `_may_load` said yes: staff read a unit or a hall of their scope
        in the session's tree (NotFound for a unit not in it); the totals, counts only, to all `_may_load` let in."""
        if conn.device is not None or topic.kind in (TopicKind.VIEWER, TopicKind.TOTALS):
            return True
        assert conn.user is not None
        if topic.kind is TopicKind.HALL:
            hall = live.tally.halls.get(topic.target)
            return hall is not None and in_scope(conn.user, hall.unit_id, live.tally.tree)
        live.tally.tree.get(topic.target)  # NotFound for a unit not in the session's tree
        return in_scope(conn.user, topic.target, live.tally.tree)

    # -- changes: from the ledger to the tallies, and to the other hubs ------------------------------
    def _on_commit(self, changes: list[Committed | Headcount]) -> None:
        spawn(self._publish(changes))

    async def _publish(self, changes: list[Committed | Headcount]) -> None:
        items = await self._items(changes)
        self.relay.apply(items)  # this hub at once; the others through the bus
        await self.relay.send(items)

    async def _read_from_store(self, changes: list[Committed]) -> None:
        """Check-ins the store feed read while the bus is down: this hub's only (every hub reads its own)."""
        self.relay.apply(await self._items(changes))

    async def _items(self, changes: Sequence[Committed | Headcount]) -> list[Item]:
        people = [c.person_id for c in changes if isinstance(c, Committed)]
        try:
            cards = await self.facts.cards(people) if people else {}
        except Exception as e:  # the store is away: the change goes out all the same, without names
            log.warning("names of %d check-ins not read: %s", len(people), e)
            cards = {}
        return change_items(list(changes), cards)

    # -- the loops ----------------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        """A flush every FLUSH_SECONDS, start to start: the time a fan-out takes is not added to the wait
        (when it takes longer, the next flush follows at once: coalescing grows with the load)."""
        due = time.monotonic()
        while True:
            due = max(due + FLUSH_SECONDS, time.monotonic())
            await asyncio.sleep(due - time.monotonic())
            for live in list(self.sessions.live.values()):
                try:
                    for text, subscribers in topics.flush(live, self.presence.viewers(live)):
                        await topics.fan_out(text, subscribers)
                except Exception:
                    log.exception("flush of session %s failed", live.session_id)

    async def _resync_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._resync_now.wait(), RESYNC_SECONDS)
            self._resync_now.clear()
            topics.forget_idle(self.sessions.live.values())
            self.sessions.drop(lambda live: idle(live, time.monotonic() - SESSION_IDLE_SECONDS))
            await self.sessions.resync(lambda journal: self.relay.apply(journal, replay=True))

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_SECONDS)
            for live in list(self.sessions.live.values()):
                self.presence.update(live)

    async def _viewers_loop(self) -> None:
        while True:
            await asyncio.sleep(VIEWERS_PUBLISH_SECONDS)
            counts = {s: self.presence.local_viewers(live) for s, live in self.sessions.live.items()}
            if counts:
                await self.relay.send([viewers_item(self.hub_id, counts)])

    async def _recheck_loop(self) -> None:
        """Every connection's user and device read again (web/live/identity.py)."""
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            try:
                await self.identity.recheck(list(self.conns), time.monotonic())
            except Exception as e:  # the store is away: each connection is checked again before it acts
                log.warning("live connections not checked again: %s", e)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S / 2)
            limit = time.monotonic() - 3 * HEARTBEAT_S
            for conn in list(self.conns):
                if conn.last_ping < limit:
                    conn.close_soon(Close.NO_HEARTBEAT, "no heartbeat")
