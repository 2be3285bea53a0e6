"""The livestream bench's viewer processes: real aiortc peer connections, most counting whole frames
without decoding them (`FrameCounter`), a few decoding every frame."""


from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media_relay import LOOPBACK, ask


class FrameCounter:
    """A counting viewer's RTP handler: each packet is checked and decrypted with the connection's own SRTP
    session; a video frame counts when all its packets arrived (sequence numbers without a gap, up to the
    packet with the marker bit). No RTP parsing, jitter buffer, bitrate estimator or decoder, and once the
    connection is up (`bypass`) not even aioice's queue: the load generator must leave the CPU to the
    relay. STUN (ICE consent), DTLS and RTCP still take aiortc's own path."""

    def __init__(self, video_payload_type: int) -> None:
        self.video_payload_type = video_payload_type
        self.frames = 0
        self.next_seq: int | None = None
        self.whole = True

    async def handle(self, data: bytes, arrival_time_ms: int = 0) -> None:
        self.count(data)

    def bypass(self, pc: Any) -> bool:
        """Read SRTP straight off the connection's UDP protocol (after DTLS set up the keys)."""
        dtls = pc.getTransceivers()[0].receiver.transport
        pair = getattr(getattr(dtls.transport, "_connection", None), "_nominated", {}).get(1)
        srtp = getattr(dtls, "_rx_srtp", None)
        if pair is None or srtp is None:
            return False
        protocol, unprotect, count = pair.protocol, srtp.unprotect, self.count
        original = protocol.datagram_received

        def datagram_received(data: bytes, addr: Any) -> None:
            if 127 < data[0] < 192 and not 191 < data[1] < 209:  # SRTP, not SRTCP
                with contextlib.suppress(Exception):  # pylibsrtp.Error: not authentic, or a replay
                    count(unprotect(data))
                return
            original(data, addr)

        protocol.datagram_received = datagram_received
        return True

    def count(self, data: bytes) -> None:
        if len(data) < 12 or data[1] & 0x7F != self.video_payload_type:
            return  # audio (and RTX, which a counting viewer never asks for)
        sequence_number = (data[2] << 8) | data[3]
        if self.next_seq is not None and sequence_number != self.next_seq:
            self.whole = False  # a packet of this frame is missing
        self.next_seq = (sequence_number + 1) & 0xFFFF
        if data[1] & 0x80:  # the marker bit: the frame's last packet
            self.frames += self.whole
            self.whole = True


# -- viewer processes ------------------------------------------------------------------------------------
def viewers_main(port: int, count: int, decoders: int, conn: Any, nice: int) -> None:
    os.nice(nice)  # the load generator yields the CPU to the relay it measures
    asyncio.run(_viewers(port, count, decoders, conn))


async def _viewers(port: int, count: int, decoders: int, conn: Any) -> None:
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from web.media.peers import announce_addresses

    announce_addresses(LOOPBACK)
    counters: list[FrameCounter | None] = [None] * count
    decoded = [0] * count
    peers: list[RTCPeerConnection] = []
    tasks: list[asyncio.Task[None]] = []

    async def decode(i: int, track: Any) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            decoded[i] += 1

    async def connect(i: int) -> None:
        pc = RTCPeerConnection()
        peers.append(pc)
        video = pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        answer = await ask(port, {"op": "view", "sdp": pc.localDescription.sdp})
        for _ in range(30):  # turned away while the relay is behind: a page would use HLS, we wait
            if "sdp" in answer:
                break
            await asyncio.sleep(1.0)
            answer = await ask(port, {"op": "view", "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        if i >= decoders:  # count whole frames (see FrameCounter), decode nothing
            found = re.search(r"a=rtpmap:(\d+) H264/90000", answer["sdp"])
            assert found, "the relay answers with H.264"
            counter = counters[i] = FrameCounter(int(found.group(1)))
            video.receiver.transport._handle_rtp_data = counter.handle  # type: ignore[method-assign]
            pending.append((pc, counter))
        if i < decoders:  # aiortc's own receiver: every frame decoded in its decoder thread
            tasks.append(asyncio.ensure_future(decode(i, video.receiver.track)))

    pending: list[tuple[Any, FrameCounter]] = []
    for i in range(count):
        await connect(i)
        await asyncio.sleep(0.02)
    for _ in range(300):  # the bypass needs each connection up
        pending = [(pc, c) for pc, c in pending if not c.bypass(pc)]
        if not pending:
            break
        await asyncio.sleep(0.1)
    conn.send("connected")
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "count":
            states = [pc.connectionState for pc in peers]
            conn.send({"counts": [decoded[i] if c is None else c.frames for i, c in enumerate(counters)],
                       "decoding": list(range(decoders)), "connected": states.count("connected"),
                       "cpu": time.process_time()})
        else:
            break
    for pc in peers:
        await pc.close()
    for task in tasks:
        task.cancel()


