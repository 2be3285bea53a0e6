"""Real aiortc peers for media tests: a publisher sending a test pattern and a tone, and viewers that
decode (or only count) what they receive. All in one process, on the loopback network."""

from __future__ import annotations

import asyncio
import fractions
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms


class Pattern(VideoStreamTrack):
    """A moving bar on a solid background of `colour` (RGB), 30 frames a second."""

    def __init__(self, colour: tuple[int, int, int] = (0, 90, 200), width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.colour = colour
        self.width, self.height = width, height
        self.n = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[:] = self.colour
        x = (self.n * 6) % (self.width - 24)
        image[:, x:x + 24] = (255, 255, 255)
        self.n += 1
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(MediaStreamTrack):
    """A 440 Hz tone in 20 ms frames."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.samples = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        else:
            await asyncio.sleep(max(0.0, self.start + self.samples / AUDIO_RATE - loop.time()))
        t = (np.arange(AUDIO_SAMPLES) + self.samples) / AUDIO_RATE
        wave = (np.sin(2 * math.pi * 440 * t) * 6000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(wave, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.samples += AUDIO_SAMPLES
        return frame


async def publisher_offer(video: MediaStreamTrack | None = None, audio: bool = True) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTrack(video or Pattern())
    if audio:
        pc.addTrack(Tone())
    await pc.setLocalDescription(await pc.createOffer())
    return pc


@dataclass
class Viewer:
    """A viewing peer: decodes every frame it receives (aiortc's own receiver), keeps a few."""

    pc: RTCPeerConnection = field(default_factory=RTCPeerConnection)
    video_frames: int = 0
    audio_frames: int = 0
    sizes: set[tuple[int, int]] = field(default_factory=set)
    colours: list[tuple[int, int, int]] = field(default_factory=list)  # mean colour of the left edge
    pts: list[int] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def offer(self) -> str:
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.on("track", lambda track: self.tasks.append(asyncio.ensure_future(self._read(track))))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, av.VideoFrame):
                self.video_frames += 1
                self.sizes.add((frame.width, frame.height))
                self.pts.append(int(frame.pts or 0))
                if self.video_frames % 5 == 0:
                    edge = frame.to_ndarray(format="rgb24")[:, :4].reshape(-1, 3).mean(axis=0)
                    self.colours.append((int(edge[0]), int(edge[1]), int(edge[2])))
            else:
                self.audio_frames += 1

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()


async def until(condition: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(step)
    return True


def near(colour: tuple[int, int, int], target: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, target, strict=True))
