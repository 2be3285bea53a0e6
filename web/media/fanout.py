"""Fan-out without letting the slowest viewer hold anyone back: pure policies, no event loop.

- `FrameQueue`: one viewer's bounded queue. A viewer that falls `capacity` frames behind loses its
  backlog and waits for the next keyframe (a decoder cannot resume mid-GOP); one that is merely late
  skips ahead when a keyframe arrives and its backlog is over `catch_up` frames. The queue never grows
  past `capacity`, whatever the viewer does.
- `KeyframePolicy`: when to ask the source for a keyframe (RTCP PLI). Every viewer that joins or
  drops asks; the source hears at most one request per `min_interval`, and one every `every`
  seconds while segments are being cut (HLS needs a keyframe at every segment start).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")


class Offered(Enum):
    QUEUED = "queued"
    SKIPPED = "skipped"  # waiting for a keyframe: the frame is useless to this viewer
    CAUGHT_UP = "caught_up"  # a keyframe replaced a stale backlog
    OVERFLOW = "overflow"  # the backlog was dropped; the viewer now waits for a keyframe


@dataclass
class QueueStats:
    queued: int = 0
    skipped: int = 0
    dropped: int = 0  # frames thrown away from a backlog
    overflows: int = 0


class FrameQueue(Generic[T]):
    """A bounded per-viewer queue that only ever starts (or restarts) a viewer on a keyframe."""

    __slots__ = ("_items", "capacity", "catch_up", "stats", "waiting")

    def __init__(self, capacity: int = 90, catch_up: int = 15, waiting: bool = True) -> None:
        if capacity < 1 or not 0 < catch_up <= capacity:
            raise ValueError("capacity >= 1 and 0 < catch_up <= capacity")
        self.capacity = capacity
        self.catch_up = catch_up
        self.waiting = waiting  # True until the first keyframe: a new viewer cannot decode a P-frame
        self._items: deque[T] = deque()
        self.stats = QueueStats()

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: T, keyframe: bool) -> Offered:
        """Queue `item` or tell why not. OVERFLOW means: ask the source for a keyframe."""
        if keyframe and len(self._items) >= self.catch_up:
            self._drop()
            self._items.append(item)
            self.stats.queued += 1
            return Offered.CAUGHT_UP
        if self.waiting and not keyframe:
            self.stats.skipped += 1
            return Offered.SKIPPED
        self.waiting = False
        if len(self._items) >= self.capacity:
            self._drop()
            self.stats.overflows += 1
            self.waiting = True
            self.stats.skipped += 1
            return Offered.OVERFLOW
        self._items.append(item)
        self.stats.queued += 1
        return Offered.QUEUED

    def pop(self) -> T | None:
        return self._items.popleft() if self._items else None

    def restart(self) -> None:
        """Forget the backlog and wait for a keyframe (the source changed)."""
        self._drop()
        self.waiting = True

    def _drop(self) -> None:
        self.stats.dropped += len(self._items)
        self._items.clear()


class KeyframePolicy:
    """Coalesces keyframe requests: `want()` when a viewer needs one, `due(now)` says when to send."""

    def __init__(self, min_interval: float = 1.0, every: float | None = None) -> None:
        self.min_interval = min_interval
        self.every = every  # ask when no keyframe came for this long (segment boundaries), or None
        self.pending = False
        self.last_sent: float | None = None
        self.last_keyframe: float | None = None
        self.sent = 0
        self.coalesced = 0

    def want(self) -> None:
        if self.pending:
            self.coalesced += 1
        self.pending = True

    def due(self, now: float) -> bool:
        """Whether to send a request now; if so, it is counted as sent."""
        if self.last_sent is not None and now - self.last_sent < self.min_interval:
            return False
        periodic = self.every is not None and (self.last_keyframe is None or now - self.last_keyframe >= self.every)
        if not (self.pending or periodic):
            return False
        self.pending = False
        self.last_sent = now
        self.sent += 1
        return True

    def saw_keyframe(self, now: float) -> None:
        """A keyframe went out to everyone: whoever was waiting has it, nothing is owed."""
        self.pending = False
        self.last_keyframe = now
