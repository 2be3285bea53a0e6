"""HLS segments and a recording of the programme, written by a worker thread with PyAV.

The event loop only queues frames (`put`, never blocks; a full queue drops to the next keyframe). The
thread remuxes the H.264 video as it came (no re-encoding) into MPEG-TS segments of 1–2 s, cut at
keyframes, with a sliding-window playlist; and into one recording per broadcast, a fragmented MP4
(playable in a browser, and readable up to the last fragment even if the process dies). The Opus
audio is decoded and encoded once to AAC, which HLS players and MP4 files expect; with `audio=False`
the HLS and recording carry video only.
"""

from __future__ import annotations

import contextlib
import fractions
import io
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import av.audio.fifo

from web.media.frames import Kind
from web.media.playlist import Cutter, Playlist, Segment
from web.media.relay import AUDIO_CLOCK, VIDEO_CLOCK, ProgramFrame

log = logging.getLogger(__name__)

VIDEO_TB = fractions.Fraction(1, VIDEO_CLOCK)
AUDIO_TB = fractions.Fraction(1, AUDIO_CLOCK)
AAC_FRAME = 1024
AUDIO_GAP = AUDIO_CLOCK // 5  # a jump of 200 ms in the audio clock restarts the AAC timeline
PLAYLIST = "index.m3u8"


class _Discontinuity:
    pass


class _Stop:
    pass


@dataclass
class MuxerStats:
    frames: int = 0
    dropped: int = 0
    segments: int = 0
    errors: int = 0
    recording: Path | None = None
    recordings: list[Path] = field(default_factory=list)


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class _Output:
    """One MPEG-TS output (a segment or the recording) with a video stream and optionally AAC audio."""

    def __init__(self, path: Path, template: Any, audio: bool, fmt: str = "mpegts",
                 options: dict[str, str] | None = None) -> None:
        self.path = path
        self.container = av.open(str(path), "w", format=fmt, options=options or {})
        self.video = self.container.add_stream_from_template(template)
        self.video.time_base = VIDEO_TB
        self.audio = None
        if audio:
            self.audio = self.container.add_stream_from_template(audio_template())

    def video_packet(self, f: ProgramFrame) -> None:
        packet = av.Packet(f.data)
        packet.pts = packet.dts = f.pts
        packet.time_base = VIDEO_TB
        packet.is_keyframe = f.keyframe
        packet.stream = self.video
        self.container.mux(packet)

    def audio_packet(self, data: bytes, pts: int, duration: int) -> None:
        if self.audio is None:
            return
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.duration = duration
        packet.time_base = AUDIO_TB
        packet.stream = self.audio
        self.container.mux(packet)

    def close(self) -> None:
        self.container.close()


_AUDIO_TEMPLATE: dict[str, Any] = {}


def audio_template() -> Any:
    """An AAC stream description, AudioSpecificConfig included, to copy into outputs (read back from a
    throwaway in-memory Matroska file holding one frame of silence)."""
    if "stream" not in _AUDIO_TEMPLATE:
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="matroska") as out:
            stream = out.add_stream("aac", rate=AUDIO_CLOCK, layout="stereo")
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=AAC_FRAME)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = AUDIO_CLOCK
            frame.pts = 0
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        buffer.seek(0)
        container = av.open(buffer, format="matroska")
        _AUDIO_TEMPLATE["container"] = container
        _AUDIO_TEMPLATE["stream"] = container.streams.audio[0]
    return _AUDIO_TEMPLATE["stream"]


def video_template(keyframe: bytes) -> Any:
    """The H.264 stream description (size, SPS/PPS) read from the first keyframe."""
    container = av.open(io.BytesIO(keyframe), format="h264")
    return container, container.streams.video[0]


class AacTranscoder:
    """Opus packets in, AAC packets out, on the programme's audio clock (48 kHz)."""

    def __init__(self, bitrate: int = 96_000) -> None:
        self.decoder = av.CodecContext.create("opus", "r")
        self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_CLOCK)
        self.encoder: Any = av.CodecContext.create("aac", "w")
        self.encoder.sample_rate = AUDIO_CLOCK
        self.encoder.layout = "stereo"
        self.encoder.format = "fltp"
        self.encoder.bit_rate = bitrate
        self.encoder.time_base = AUDIO_TB
        self.encoder.open()
        self.fifo = av.audio.fifo.AudioFifo()
        self.next_pts: int | None = None  # programme pts of the fifo's first sample

    def feed(self, data: bytes, pts: int) -> list[tuple[bytes, int, int]]:
        """One Opus packet at programme time `pts`; returns (AAC bytes, pts, duration) ready to mux."""
        packet = av.Packet(data)
        out: list[tuple[bytes, int, int]] = []
        for decoded in self.decoder.decode(packet):
            expected = None if self.next_pts is None else self.next_pts + self.fifo.samples
            if expected is None or abs(pts - expected) > AUDIO_GAP:
                self.fifo = av.audio.fifo.AudioFifo()
                self.next_pts = pts
            for frame in self.resampler.resample(decoded):
                frame.pts = None
                self.fifo.write(frame)
            while self.fifo.samples >= AAC_FRAME:
                chunk = self.fifo.read(AAC_FRAME)
                assert chunk is not None and self.next_pts is not None
                chunk.pts = self.next_pts
                chunk.time_base = AUDIO_TB
                self.next_pts += AAC_FRAME
                for encoded in self.encoder.encode(chunk):
                    if encoded.pts is not None and encoded.pts >= 0:  # not the encoder's priming
                        out.append((bytes(encoded), encoded.pts, AAC_FRAME))
        return out


class ProgramMuxer:
    """Writes the programme as live HLS into `hls_dir` and/or as a recording into `recording_dir`."""

    def __init__(self, hls_dir: Path | None, recording_dir: Path | None, segment_s: float = 2.0, window: int = 6,
                 audio: bool = True, capacity: int = 600, name: str = "programme") -> None:
        self.hls_dir = hls_dir
        self.recording_dir = recording_dir
        self.segment_s = segment_s
        self.audio = audio
        self.playlist = Playlist(segment_s, window)
        self.cutter = Cutter(segment_s)
        self.stats = MuxerStats()
        self._queue: queue.Queue[ProgramFrame | _Discontinuity | _Stop] = queue.Queue(maxsize=capacity)
        self._dropping = False
        self._thread = threading.Thread(target=self._run, name=f"muxer-{name}", daemon=True)
        self._segment: _Output | None = None
        self._segment_start = 0
        self._segment_discontinuity = False  # the open segment follows a source switch
        self._next_discontinuity = False
        self._last_pts: int | None = None
        self._frame_ticks = VIDEO_CLOCK // 30
        self._recording: _Output | None = None
        self._template: Any = None
        self._transcoder: AacTranscoder | None = None
        self._sequence = 0
        self.ready = threading.Event()  # the playlist has its first segment
        for directory in (hls_dir, recording_dir):
            if directory is not None:
                directory.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    # -- event loop side ----------------------------------------------------------------------------
    def put(self, f: ProgramFrame) -> None:
        """Queue a programme frame; never blocks. After an overflow, waits for a video keyframe."""
        if self._dropping and not (f.kind is Kind.VIDEO and f.keyframe):
            self.stats.dropped += 1
            return
        try:
            self._queue.put_nowait(f)
            self._dropping = False
        except queue.Full:
            self._dropping = True
            self.stats.dropped += 1

    def discontinuity(self) -> None:
        """The source changed: the next segment starts with EXT-X-DISCONTINUITY."""
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_Discontinuity())

    def close(self, timeout: float = 30.0) -> None:
        """Finish the last segment and the recording (blocking: call it in a thread)."""
        self._queue.put(_Stop(), timeout=timeout)
        self._thread.join(timeout)

    # -- worker thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _Stop):
                break
            try:
                if isinstance(item, _Discontinuity):
                    self._next_discontinuity = True
                    self._finish_segment()
                    self.cutter.reset()
                elif item.kind is Kind.VIDEO:
                    self._video(item)
                elif self.audio:
                    self._audio(item)
            except Exception:
                self.stats.errors += 1
                log.exception("muxing a frame failed")
        try:
            self._finish_segment(final=True)
            self._finish_recording()
        except Exception:
            log.exception("closing the programme files failed")

    def _video(self, f: ProgramFrame) -> None:
        if self._template is None:
            if not f.keyframe:
                return
            self._template = video_template(f.data)
        self.stats.frames += 1
        if self._last_pts is not None and 0 < f.pts - self._last_pts < VIDEO_CLOCK:
            self._frame_ticks = f.pts - self._last_pts
        if self.hls_dir is not None and self.cutter.cut(f.pts / VIDEO_CLOCK, f.keyframe):
            self._finish_segment(end=f.pts)
            self._sequence += 1
            self._segment = _Output(self.hls_dir / f".{self._sequence}.ts", self._template[1], self.audio)
            self._segment_start = f.pts
            self._segment_discontinuity, self._next_discontinuity = self._next_discontinuity, False
        self._last_pts = f.pts
        if self._segment is not None:
            self._segment.video_packet(f)
        if self.recording_dir is not None:
            if self._recording is None and f.keyframe:
                name = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
                self._recording = _Output(self.recording_dir / f"{name}.mp4", self._template[1], self.audio, "mp4",
                                          {"movflags": "frag_keyframe+empty_moov+default_base_moof"})
                self.stats.recording = self._recording.path
            if self._recording is not None:
                self._recording.video_packet(f)

    def _audio(self, f: ProgramFrame) -> None:
        if self._segment is None and self._recording is None:
            return
        if self._transcoder is None:
            self._transcoder = AacTranscoder()
        for data, pts, duration in self._transcoder.feed(f.data, f.pts):
            if self._segment is not None:
                self._segment.audio_packet(data, pts, duration)
            if self._recording is not None:
                self._recording.audio_packet(data, pts, duration)

    def _finish_segment(self, end: int | None = None, final: bool = False) -> None:
        """Close the open segment (ending at programme time `end`, or after the last frame written)."""
        if self.hls_dir is None:
            return
        segment, self._segment = self._segment, None
        if segment is not None:
            segment.close()
            if end is None:
                end = (self._last_pts or self._segment_start) + self._frame_ticks
            name = f"{self._sequence}.ts"
            os.replace(segment.path, self.hls_dir / name)
            duration = max(0.001, (end - self._segment_start) / VIDEO_CLOCK)
            removed = self.playlist.add(Segment(self._sequence, name, duration, self._segment_discontinuity))
            self.stats.segments += 1
            for old in removed:
                with contextlib.suppress(FileNotFoundError):
                    (self.hls_dir / old.uri).unlink()
        elif not final:
            return
        if final:
            self.playlist.ended = True
        if self.playlist.segments:
            write_atomically(self.hls_dir / PLAYLIST, self.playlist.render())
            self.ready.set()

    def _finish_recording(self) -> None:
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.close()
            self.stats.recordings.append(recording.path)
