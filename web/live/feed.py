"""The store's check-ins, read by a hub whose bus is down, so its dashboards keep up without the bus.

While the bus carries messages, the feed only notes the newest scan event's id every FEED_SECONDS.
Once the bus is down (its subscription lost, or a publish failed) and until TAIL_SECONDS after it is
back, it reads every FEED_SECONDS the check-ins of the accepted scans recorded since, in the sessions
this hub serves (`LedgerStore.accepted_after`), and hands them to the hub, which applies them like
its own ledger's (one home for turning a check-in into a change: `web/live/codec.py`).

No check-in is counted twice: the feed hands on each scan event once (`Window`), and a tally applies a
person's status once whatever brought it (the bus, the ledger, this feed, or a resync). Event ids grow
but on PostgreSQL a transaction may commit after one that took a larger id, and the bus's loss is
noticed a moment late: the feed reads again the ids it saw in the last LOOKBACK_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from attendance.ledger import Committed
from attendance.store import LedgerStore
from web.live.bus import Bus

log = logging.getLogger(__name__)

FEED_SECONDS = 1.0  # how often the feed reads the store while the bus is down
LOOKBACK_SECONDS = 5.0  # ids read again: a late commit on PostgreSQL, the bus's loss noticed late
TAIL_SECONDS = 3.0  # the feed reads on this long after the bus is back (until the hub has resubscribed)

T = TypeVar("T")


class Window:
    """Which scan events a reader has handed on, and after which id it reads (pure: time is passed in).

    `after(now)` is the highest id seen by a read (or a `saw`) at least LOOKBACK_SECONDS ago; `fresh`
    keeps of a read's rows those not handed on before."""

    def __init__(self, lookback: float = LOOKBACK_SECONDS) -> None:
        self.lookback = lookback
        self.top = 0
        self._marks: deque[tuple[float, int]] = deque()  # (when, the highest id seen by then)
        self._seen: set[int] = set()

    @property
    def started(self) -> bool:
        return bool(self._marks)

    def saw(self, top: int, now: float) -> None:
        """The newest id is `top` (read while the bus works: nothing to hand on)."""
        self.top = max(self.top, top)
        self._marks.append((now, self.top))
        self.after(now)  # the marks older than needed forgotten

    def after(self, now: float) -> int:
        """Read the ids after this one."""
        while len(self._marks) > 1 and self._marks[1][0] <= now - self.lookback:
            self._marks.popleft()
        return self._marks[0][1] if self._marks else self.top

    def fresh(self, rows: list[tuple[int, T]], now: float) -> list[T]:
        """Of a read's (id, row) pairs, the rows not handed on before, in order."""
        floor = self.after(now)
        out = [row for i, row in rows if i not in self._seen and i > floor]
        self._seen = {i for i in self._seen if i > floor} | {i for i, _ in rows if i > floor}
        self.saw(max((i for i, _ in rows), default=self.top), now)
        return out


class StoreFeed:
    """Reads the store's check-ins while `bus` is down; `apply` gets each once, as ledger changes."""

    def __init__(self, store: LedgerStore, bus: Bus, sessions: Callable[[], list[int]],
                 apply: Callable[[list[Committed]], Awaitable[None]]) -> None:
        self.store = store
        self.bus = bus
        self.sessions = sessions  # the ids of the sessions this hub serves
        self.apply = apply
        self.window = Window()
        self.reads = 0  # reads of check-ins (not of the newest id)
        self._down_at = -TAIL_SECONDS  # when the bus was last seen down (monotonic)
        self._failing = False

    async def step(self, now: float) -> int:
        """One round: the newest id noted, or (bus down) the check-ins since read and applied; how many."""
        if not self.bus.up:
            self._down_at = now
        sessions = self.sessions()
        if now - self._down_at >= TAIL_SECONDS or not sessions or not self.window.started:
            self.window.saw(await self.store.last_event(), now)
            return 0
        rows = await self.store.accepted_after(self.window.after(now), sessions)
        self.reads += 1
        fresh = self.window.fresh(rows, now)
        if fresh:
            await self.apply([Committed(c.session_id, c.person_id, c) for c in fresh])
        return len(fresh)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FEED_SECONDS)
            try:
                await self.step(time.monotonic())
            except Exception as e:  # the store is away: the next round reads from the same id
                if not self._failing:
                    log.warning("the store's check-ins not read: %s", e)
                self._failing = True
            else:
                self._failing = False
