"""A live session's topics: who reads what, the snapshot cache, and the coalesced flush and fan-out.

- A subscriber gets the changes it missed (same hub epoch, all still held) or a snapshot; one snapshot
  per topic is built between flushes, however many subscribe.
- Every FLUSH_SECONDS the session's changes become one change frame per topic, with a sequence number,
  kept in a short history for resumes; each frame is encoded once and written to every subscriber in
  slices of FANOUT_SLICE_SECONDS, between which the loop serves everyone else.
- Topics nobody has read for TOPIC_IDLE_SECONDS are forgotten (a late resume then gets a snapshot);
  a session nobody reads at all is `idle` (the hub drops it).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from web import metrics
from web.live.connections import Conn
from web.live.protocol import Topic, TopicKind, frame
from web.live.tally import SessionTally
from web.live.wire import encode

FLUSH_SECONDS = 0.2
FANOUT_SLICE_SECONDS = 0.025  # writing to subscribers this long, then the loop serves others
FANOUT_STEP = 200  # subscribers written to between looks at the clock
HISTORY = 256
TOTALS_KEYS = ("unit", "totals")  # of a unit change, what the totals topic carries: counts, never names
TOPIC_IDLE_SECONDS = 300.0


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
    """One session the hub serves: its tally and its topics."""

    session_id: int
    conference_id: int
    tally: SessionTally
    root_unit_id: int = 0  # the conference's organiser unit (the province): the totals topic's unit
    topics: dict[str, TopicState] = field(default_factory=dict)
    viewers_shown: int = -1
    journal: list[dict[str, Any]] | None = None  # changes applied while a resync reads the store
    loaded_at: float = field(default_factory=time.monotonic)


def join(live: LiveSession, topic: Topic, conn: Conn, since: int | None, epoch: str | None, hub_epoch: str,
         viewers: Callable[[], int]) -> None:
    """Subscribe `conn` (allowed to read `topic`) and send what it needs: the acknowledgement of a viewer
    topic, the changes missed since `since` and `resumed` when this hub (`hub_epoch`) still holds them all,
    else a snapshot (`viewers`: the session's viewer count, asked only for one)."""
    state = live.topics.setdefault(str(topic), TopicState(topic))
    state.subscribers.add(conn)
    conn.topics.add(str(topic))
    if topic.kind is TopicKind.VIEWER:
        conn.push(frame("subscribed", topic=str(topic)))
        return
    missed = [f for seq, f in state.history if since is not None and seq > since]
    if epoch == hub_epoch and since is not None and since <= state.seq and \
            (since == state.seq or (missed and len(missed) == state.seq - since)):
        for text in missed:
            conn.push(text)
        conn.push(frame("resumed", topic=str(topic), seq=state.seq, epoch=hub_epoch))  # nothing else was missed
        return
    count = viewers()
    if state.snapshot is None or state.snapshot[0] != (state.seq, count):
        # one snapshot per topic between flushes, however many subscribe: whatever changed since it
        # was built is in the next change frame, which lists every field changed since the last one
        text = frame("snapshot", topic=str(topic), seq=state.seq, epoch=hub_epoch,
                     data=_snapshot(live, topic, count))
        state.snapshot = ((state.seq, count), text, encode(text))
    conn.push(state.snapshot[1], state.snapshot[2])


def leave(live: LiveSession | None, conn: Conn, name: str) -> None:
    """Unsubscribe `conn` from the topic `name` (of `live`, when the session is loaded)."""
    conn.topics.discard(name)
    state = live.topics.get(name) if live is not None else None
    if state is not None:
        state.subscribers.discard(conn)
        if not state.subscribers:
            state.idle_since = time.monotonic()


def _snapshot(live: LiveSession, topic: Topic, viewers: int) -> dict[str, Any]:
    if topic.kind is TopicKind.HALL:
        return live.tally.hall_snapshot(topic.target)
    if topic.kind is TopicKind.TOTALS:
        root = live.root_unit_id
        tally = live.tally
        return {"session": tally.session, "unit": tally.unit_row(root), "totals": tally.totals(root, viewers)}
    return live.tally.unit_snapshot(topic.target, viewers)


def flush(live: LiveSession, viewers: int) -> list[tuple[str, list[Conn]]]:
    """The session's change frames since the last flush, each with the subscribers it goes to."""
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
        elif state.topic.kind is TopicKind.TOTALS:
            data = {k: v for k, v in live.tally.unit_change(live.root_unit_id, changes, viewers, viewers_changed)
                    .items() if k in TOTALS_KEYS}
        else:
            data = live.tally.hall_change(state.topic.target, changes)
        if not data:
            continue
        state.seq += 1
        text = frame("change", topic=name, seq=state.seq, data=data)
        state.history.append((state.seq, text))
        out.append((text, list(state.subscribers)))
    return out


async def fan_out(text: str, subscribers: list[Conn]) -> None:
    """One frame to many, encoded once; after each FANOUT_SLICE_SECONDS of writing the loop serves the
    rest (check-ins keep being answered while 10,000 dashboards are written to)."""
    encoded = encode(text)
    started = begun = time.perf_counter()
    for start in range(0, len(subscribers), FANOUT_STEP):
        if time.perf_counter() - started > FANOUT_SLICE_SECONDS:
            await asyncio.sleep(0)
            started = time.perf_counter()
        for conn in subscribers[start:start + FANOUT_STEP]:
            conn.push(text, encoded)
    metrics.FANOUT.observe(time.perf_counter() - begun)


def forget_idle(sessions: Iterable[LiveSession]) -> None:
    """Topics nobody has read for TOPIC_IDLE_SECONDS are dropped; a late resume then gets a snapshot."""
    limit = time.monotonic() - TOPIC_IDLE_SECONDS
    for live in sessions:
        for name in [n for n, s in live.topics.items() if not s.subscribers and s.idle_since < limit]:
            del live.topics[name]


def idle(live: LiveSession, limit: float) -> bool:
    """Nobody has read the session since `limit` (monotonic seconds): no subscriber, none left after."""
    return live.loaded_at < limit and all(not s.subscribers and s.idle_since < limit for s in live.topics.values())
