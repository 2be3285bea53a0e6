"""The relay: one programme per session, fed by whichever source is on air, read by every viewer.

A `Source` is one publisher (the presenter, or a hall given the floor) whose receivers are tapped
(`tap.tap_receiver`): its encoded frames reach `Channel.frame_from` on the event loop, undecoded. The
channel puts the on-air source's frames on the programme clock, cuts their RTP payloads once
(`ProgramFrame.packed`), and offers the same object to every viewer's `RelayTrack` and to the sinks
(the HLS/recording muxer). A viewer's sender packetises nothing and encodes nothing
(`tap.share_packetizer`); its keyframe requests come back here and go upstream, rate-limited.

Switching sources happens at the new source's first keyframe, so viewers never see a broken picture,
and the programme clock runs on (`Timeline`), so their decoders and players keep going.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from web.media import tap
from web.media.fanout import FrameQueue, KeyframePolicy, Offered
from web.media.frames import EncodedFrame, Kind, frame
from web.media.timeline import Timeline

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000
QUEUE_FRAMES = {Kind.VIDEO: 90, Kind.AUDIO: 150}  # 3 s of either
CATCH_UP_FRAMES = {Kind.VIDEO: 20, Kind.AUDIO: 25}  # a viewer this far behind skips to the next keyframe
BUFFERING_S = {Kind.VIDEO: 1 / 30, Kind.AUDIO: 0.08}  # what aiortc's jitter buffers hold back before release
SWITCH_TIMEOUT_S = 5.0  # a new source that sends no keyframe in this time goes on air anyway


class ProgramFrame:
    """A frame on the programme clock; its RTP payloads are cut once, for every viewer."""

    __slots__ = ("_payloads", "codec", "data", "keyframe", "kind", "picture_id", "pts")

    def __init__(self, kind: Kind, codec: str, data: bytes, pts: int, keyframe: bool, picture_id: int = 0) -> None:
        self.kind = kind
        self.codec = codec
        self.data = data
        self.pts = pts  # in the kind's clock (90 kHz video, 48 kHz audio) from the programme's start
        self.keyframe = keyframe
        self.picture_id = picture_id
        self._payloads: list[bytes] | None = None

    def packed(self) -> tuple[list[bytes], int]:
        if self._payloads is None:
            if self.codec == "H264":
                self._payloads = tap.h264_payloads(self.data)
            elif self.codec == "VP8":
                self._payloads = tap.vp8_payloads(self.data, self.picture_id)
            else:
                self._payloads = [self.data]
        return self._payloads, self.pts


class RelayTrack(MediaStreamTrack):
    """A viewer's track: `recv()` returns the next `ProgramFrame` from the viewer's own bounded queue."""

    def __init__(self, channel: Channel, kind: Kind) -> None:
        super().__init__()
        self.kind = kind.value
        self.channel = channel
        self.queue: FrameQueue[ProgramFrame] = FrameQueue(QUEUE_FRAMES[kind], CATCH_UP_FRAMES[kind])
        self._waiter: asyncio.Future[None] | None = None
        self.sent = 0

    def offer(self, item: ProgramFrame) -> Offered:
        result = self.queue.offer(item, item.keyframe)
        if result is Offered.QUEUED or result is Offered.CAUGHT_UP:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        return result

    async def recv(self) -> Any:
        while True:
            item = self.queue.pop()
            if item is not None:
                self.sent += 1
                return item
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            self.channel.detach(self)
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)


@dataclass(eq=False)
class Source:
    """One publisher: its receivers (tapped), who it is, and what it has sent."""

    key: str  # "presenter" or "hall:<id>"
    label: str
    hall_id: int | None = None
    user_id: int | None = None  # the signed-in user publishing it (a presenter's source)
    receivers: dict[Kind, RTCRtpReceiver] = field(default_factory=dict)
    codecs: dict[Kind, str] = field(default_factory=dict)
    frames: int = 0
    video_frames: int = 0
    keyframes: int = 0
    bytes: int = 0

    def sink(self, channel: Channel) -> Callable[[RTCRtpCodecParameters, JitterFrame], None]:
        """The tap's callback: an aiortc-assembled frame of this source, into the channel."""
        def deliver(codec: RTCRtpCodecParameters, encoded: JitterFrame) -> None:
            kind = Kind.VIDEO if codec.mimeType.lower().startswith("video/") else Kind.AUDIO
            channel.frame_from(self, frame(kind, codec.name, encoded.data, encoded.timestamp, codec.clockRate))
        return deliver


Sink = Callable[[ProgramFrame], None]


class Channel:
    """A session's programme. Lives on the event loop; nothing here blocks or decodes."""

    def __init__(self, session_id: int, clock: Callable[[], float] = time.monotonic,
                 keyframe_every: float | None = None, min_keyframe_interval: float = 1.0) -> None:
        self.session_id = session_id
        self.clock = clock
        self.started = clock()
        self.sources: dict[str, Source] = {}
        self.on_air: Source | None = None
        self.next: Source | None = None  # switching to it at its first keyframe
        self._switch_asked = 0.0
        self.viewers: dict[Kind, set[RelayTrack]] = {Kind.VIDEO: set(), Kind.AUDIO: set()}
        self.timelines = {Kind.VIDEO: Timeline(VIDEO_CLOCK, BUFFERING_S[Kind.VIDEO]),
                          Kind.AUDIO: Timeline(AUDIO_CLOCK, BUFFERING_S[Kind.AUDIO])}
        self.keyframes = KeyframePolicy(min_keyframe_interval, keyframe_every)
        self.sinks: list[Sink] = []
        self.listeners: list[Callable[[Channel], None]] = []  # told when the on-air source changes
        self._picture_id = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.frames_out = 0
        self.pli_sent = 0

    # -- sources ------------------------------------------------------------------------------------
    def add_source(self, source: Source) -> Source | None:
        """Register a publisher; returns the one it replaces (same key), for the caller to close."""
        old = self.sources.get(source.key)
        self.sources[source.key] = source
        if old is not None:
            self._forget(old)
        return old

    def remove_source(self, source: Source) -> None:
        if self.sources.get(source.key) is source:
            del self.sources[source.key]
        self._forget(source)

    def _forget(self, source: Source) -> None:
        changed = False
        if self.next is source:
            self.next = None
        if self.on_air is source:
            self.on_air = None
            changed = True
        if changed:
            self._changed()

    def switch_to(self, source: Source | None) -> None:
        """Put `source` on air at its next keyframe (None: take the current source off air now)."""
        if source is None:
            self.next = None
            if self.on_air is not None:
                self.on_air = None
                self._changed()
            return
        if source is self.on_air:
            self.next = None
            return
        self.next = source
        self._switch_asked = self.clock()
        self._request_keyframe(source)

    # -- frames -------------------------------------------------------------------------------------
    def frame_from(self, source: Source, f: EncodedFrame) -> None:
        """One encoded frame from a source (called by its receiver tap, on the event loop)."""
        source.frames += 1
        source.bytes += len(f.data)
        if f.kind is Kind.VIDEO:
            source.video_frames += 1
            source.keyframes += f.keyframe
        if source is self.next and f.kind is Kind.VIDEO and (
                f.keyframe or self.clock() - self._switch_asked > SWITCH_TIMEOUT_S):
            self.on_air, self.next = source, None
            self._changed()
        if source is not self.on_air:
            return
        now = self.clock()
        pts = self.timelines[f.kind].map(source, f.timestamp * (VIDEO_CLOCK if f.kind is Kind.VIDEO else AUDIO_CLOCK)
                                         // f.clock_rate, now - self.started)
        item = ProgramFrame(f.kind, f.codec, f.data, pts, f.keyframe, self._picture_id)
        if f.kind is Kind.VIDEO:
            self._picture_id = (self._picture_id + 1) % (1 << 15)
            if f.keyframe:
                self.keyframes.saw_keyframe(now)
        overflowed = False
        for track in self.viewers[f.kind]:
            if track.offer(item) is Offered.OVERFLOW:
                overflowed = True
        for sink in self.sinks:
            sink(item)
        self.frames_out += 1
        if overflowed:
            self.want_keyframe()

    # -- viewers ------------------------------------------------------------------------------------
    def attach(self, kind: Kind) -> RelayTrack:
        """A new viewer's track; it starts at the next keyframe, which is asked for at once."""
        track = RelayTrack(self, kind)
        self.viewers[kind].add(track)
        if kind is Kind.VIDEO:
            self.want_keyframe()
        return track

    def detach(self, track: RelayTrack) -> None:
        self.viewers[Kind(track.kind)].discard(track)

    @property
    def viewer_count(self) -> int:
        return len(self.viewers[Kind.VIDEO])

    # -- keyframes ----------------------------------------------------------------------------------
    def want_keyframe(self) -> None:
        """A viewer needs a keyframe (joined, lagged, or sent a PLI): ask upstream, rate-limited."""
        self.keyframes.want()
        self.tick()

    def tick(self) -> None:
        """Send what the keyframe policy says is due; the service calls this a few times a second."""
        target = self.next or self.on_air
        if self.next is not None:
            self.keyframes.want()  # keep asking the next source until it sends its first keyframe
        if target is not None and self.keyframes.due(self.clock()):
            self._request_keyframe(target)

    def _request_keyframe(self, source: Source) -> None:
        receiver = source.receivers.get(Kind.VIDEO)
        if receiver is None:
            return
        self.pli_sent += 1
        task = asyncio.get_running_loop().create_task(self._pli(receiver))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pli(receiver: RTCRtpReceiver) -> None:
        try:
            await tap.request_keyframe(receiver)
        except Exception as e:  # the source is going away
            log.debug("keyframe request failed: %s", e)

    def _changed(self) -> None:
        for listener in list(self.listeners):
            listener(self)

    async def close(self) -> None:
        for kind in Kind:
            for track in list(self.viewers[kind]):
                track.stop()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
