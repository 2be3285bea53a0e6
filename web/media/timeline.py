"""One programme clock across sources: a viewer's timestamps keep running forward when the floor
passes from the presenter to a hall and back. Pure: the caller passes the time.
"""

from __future__ import annotations


class Timeline:
    """Maps each source's media timestamps (`clock_rate` ticks from its first frame) onto the programme.

    A source keeps its own spacing; when a new source starts, its first frame is placed at the
    programme's elapsed wall time (less the known buffering `latency`), never before the last frame
    out, so the clock never runs backwards and audio and video of one source line up.
    """

    __slots__ = ("clock_rate", "last", "latency", "offset", "source")

    def __init__(self, clock_rate: int, latency: float = 0.0) -> None:
        self.clock_rate = clock_rate
        self.latency = latency
        self.source: object = None
        self.offset = 0
        self.last: int | None = None

    def map(self, source: object, timestamp: int, elapsed: float) -> int:
        """The programme timestamp of a frame of `source`; `elapsed`: seconds since the programme began."""
        if source is not self.source:
            start = max(0, round((elapsed - self.latency) * self.clock_rate))
            if self.last is not None:
                start = max(start, self.last + 1)
            self.offset = start - timestamp
            self.source = source
        pts = timestamp + self.offset
        if self.last is not None and pts <= self.last:
            pts = self.last + 1  # a source whose clock stepped back: keep the programme monotonic
            self.offset = pts - timestamp
        self.last = pts
        return pts
