"""HLS media playlists (RFC 8216) and where to cut segments. Pure: numbers in, text out."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    sequence: int
    uri: str
    duration: float  # seconds
    discontinuity: bool = False  # the source changed (another hall, a new resolution) before it


class Playlist:
    """A live sliding-window playlist, or with `window=None` the whole event (a recording)."""

    def __init__(self, target: float, window: int | None = 6) -> None:
        self.target = target
        self.window = window
        self.segments: list[Segment] = []
        self.discontinuities_removed = 0
        self.ended = False

    def add(self, segment: Segment) -> list[Segment]:
        """Append a segment; returns the segments that slid out of the window (their files may go)."""
        self.segments.append(segment)
        removed: list[Segment] = []
        while self.window is not None and len(self.segments) > self.window:
            old = self.segments.pop(0)
            self.discontinuities_removed += old.discontinuity
            removed.append(old)
        return removed

    @property
    def media_sequence(self) -> int:
        return self.segments[0].sequence if self.segments else 0

    def target_duration(self) -> int:
        """EXT-X-TARGETDURATION: no segment's rounded duration may exceed it (RFC 8216 4.3.3.1)."""
        return max([math.ceil(self.target), *(math.floor(s.duration + 0.5) for s in self.segments)])

    def render(self) -> str:
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{self.target_duration()}",
                 f"#EXT-X-MEDIA-SEQUENCE:{self.media_sequence}"]
        if self.discontinuities_removed:
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuities_removed}")
        if self.window is None:
            lines.append("#EXT-X-PLAYLIST-TYPE:EVENT" if not self.ended else "#EXT-X-PLAYLIST-TYPE:VOD")
        for s in self.segments:
            if s.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f"#EXTINF:{s.duration:.3f},")
            lines.append(s.uri)
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"


class Cutter:
    """Cuts a segment at the first video keyframe once it is `target` seconds long (or `limit` seconds
    without any keyframe, so a source that ignores keyframe requests still yields segments)."""

    def __init__(self, target: float, limit: float | None = None) -> None:
        self.target = target
        self.limit = limit if limit is not None else 3 * target
        self.start: float | None = None

    def cut(self, at: float, keyframe: bool) -> bool:
        """Whether a new segment starts with the video frame at `at` seconds (programme time)."""
        if self.start is None:
            if not keyframe:
                return False
            self.start = at
            return True
        length = at - self.start
        if (keyframe and length >= self.target - 0.05) or length >= self.limit:
            self.start = at
            return True
        return False

    def reset(self) -> None:
        self.start = None
