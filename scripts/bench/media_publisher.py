"""The livestream bench's publisher process: a 10 s loop encoded once (libx264 baseline, 2 s GOP, Opus
tone), then sent to the relay in real time as encoded packets."""


from __future__ import annotations

import asyncio
import fractions
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media_relay import LOOPBACK, ask

FPS = 30
GOP_SECONDS = 2
LOOP_SECONDS = 10



# -- the publisher process --------------------------------------------------------------------------------
def encode_loop(width: int, height: int, bitrate: int) -> tuple[list[tuple[bytes, bool]], list[bytes]]:
    """A 10 s loop of 720p H.264 (baseline, no B-frames, 2 s GOP) with enough detail to use the bitrate,
    and 20 ms Opus packets of a tone."""
    import av
    import numpy as np

    encoder: Any = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = fractions.Fraction(1, FPS)
    encoder.framerate = fractions.Fraction(FPS, 1)
    encoder.bit_rate = bitrate
    encoder.profile = "Baseline"
    encoder.gop_size = FPS * GOP_SECONDS
    encoder.options = {"preset": "veryfast", "tune": "zerolatency",
                       "x264-params": f"keyint={FPS * GOP_SECONDS}:min-keyint={FPS * GOP_SECONDS}:scenecut=0:"
                                      f"bframes=0:vbv-maxrate={bitrate // 1000}:vbv-bufsize={bitrate // 1000}"}
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, (height * 2, width * 2), dtype=np.uint8)
    xx = np.arange(width)[None, :]
    video: list[tuple[bytes, bool]] = []
    for n in range(FPS * LOOP_SECONDS):
        dx, dy = (n * 7) % width, (n * 3) % height
        luma = texture[dy:dy + height, dx:dx + width] // 2 + ((xx + n * 4) % 256 // 2).astype(np.uint8)
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(np.ascontiguousarray(luma).tobytes())
        chroma = np.full((height // 2, width // 2), (n * 2) % 256, np.uint8)
        frame.planes[1].update(chroma.tobytes())
        frame.planes[2].update((255 - chroma).tobytes())
        frame.pts = n
        video += [(bytes(p), bool(p.is_keyframe)) for p in encoder.encode(frame)]
    video += [(bytes(p), bool(p.is_keyframe)) for p in encoder.encode(None)]

    opus: Any = av.CodecContext.create("libopus", "w")
    opus.sample_rate, opus.layout, opus.format = 48000, "mono", "s16"
    opus.time_base = fractions.Fraction(1, 48000)
    opus.bit_rate = 32000
    audio: list[bytes] = []
    samples = 0
    for _ in range(50 * LOOP_SECONDS):
        t = (np.arange(960) + samples) / 48000
        wave = (np.sin(2 * math.pi * 440 * t) * 5000).astype(np.int16).reshape(1, -1)
        chunk = av.AudioFrame.from_ndarray(wave, format="s16", layout="mono")
        chunk.sample_rate, chunk.pts = 48000, samples
        samples += 960
        audio += [bytes(p) for p in opus.encode(chunk)]
    return video, audio


def publisher_main(port: int, width: int, height: int, bitrate: int, ready: Any, stop: Any) -> None:
    asyncio.run(_publisher(port, width, height, bitrate, ready, stop))


async def _publisher(port: int, width: int, height: int, bitrate: int, ready: Any, stop: Any) -> None:
    import av
    from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

    from web.media.peers import announce_addresses

    announce_addresses(LOOPBACK)
    video, audio = encode_loop(width, height, bitrate)
    size = sum(len(d) for d, _ in video)
    ready.send({"bitrate": size * 8 / LOOP_SECONDS, "frames": len(video), "keyframes": sum(k for _, k in video)})

    class Packets(MediaStreamTrack):
        """Sends pre-encoded packets in real time (aiortc packetises them without encoding)."""

        def __init__(self, kind: str, packets: list[bytes], rate: int, step: int) -> None:
            super().__init__()
            self.kind = kind
            self.packets, self.rate, self.step = packets, rate, step
            self.n = 0
            self.start: float | None = None

        async def recv(self) -> Any:
            loop = asyncio.get_running_loop()
            if self.start is None:
                self.start = loop.time()
            due = self.start + self.n * self.step / self.rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            packet = av.Packet(self.packets[self.n % len(self.packets)])
            packet.pts = self.n * self.step
            packet.time_base = fractions.Fraction(1, self.rate)
            self.n += 1
            return packet

    pc = RTCPeerConnection()
    pc.addTrack(Packets("video", [d for d, _ in video], 90000, 90000 // FPS))
    pc.addTrack(Packets("audio", audio, 48000, 960))
    await pc.setLocalDescription(await pc.createOffer())
    answer = await ask(port, {"op": "publish", "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    while not stop.poll():
        await asyncio.sleep(0.2)
    await pc.close()


