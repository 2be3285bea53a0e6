"""One check-in attempt per code while it stays in front of the camera: pure bookkeeping, time passed in.

A camera sees the same card in many consecutive frames. A code is *fresh* when it has not been seen
for `window` seconds; every sighting, fresh or not, restarts its window. So a card held up for ten
seconds is attempted once, and shown again after a pause it is attempted again (and answered as a
repeat by the ledger).
"""

from __future__ import annotations

from collections import OrderedDict


class RecentCodes:
    def __init__(self, window: float = 3.0, limit: int = 256) -> None:
        self.window = window
        self.limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def fresh(self, key: str, now: float) -> bool:
        """Record a sighting of `key` at `now` (monotonic seconds); True when it deserves an attempt."""
        last = self._seen.pop(key, None)
        self._seen[key] = now
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return last is None or now - last >= self.window

    def forget(self, key: str) -> None:
        """Let the next sighting through at once (the last attempt could not be answered)."""
        self._seen.pop(key, None)
