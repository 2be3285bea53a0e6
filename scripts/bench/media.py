"""Livestream benchmark: one relay process, a 1280x720 ~1.5 Mbps publisher, N real aiortc viewers.

    uv run python scripts/bench/media.py --viewers 100 [--seconds 20] [--processes 3] [--decoders 3]

Processes (all on this machine, loopback only):
- the relay: the production relay (`web.media.service.MediaService`: tapped receiver, channel, per-viewer
  bounded queues, shared packetizer, HLS and recording muxer) behind a JSON-lines signalling socket;
  its CPU time (all threads) is measured over the window, and every aiortc encoder it creates or frame
  it encodes is counted;
- the publisher: pre-encodes a 10 s loop (libx264 baseline, 2 s GOP, Opus tone) once, then sends it in
  real time as encoded packets, so its own CPU cost is small;
- viewer processes (`nice` 5: the load generator yields the CPU to the relay it measures): real
  RTCPeerConnections (ICE, DTLS, SRTP). Most viewers count whole frames without decoding them
  (`FrameCounter`: every packet decrypted and authenticated, a frame counted when none of its packets
  is missing); `--decoders` of them (at least 3) decode every frame with aiortc's own receiver.

Frames per viewer are counted over `--seconds` after every viewer is connected and a warm-up. The last
line is: viewers=<n> min_fps=<float> median_fps=<float> relay_cpu_ms_per_viewer_s=<float> per_viewer_encodes=<n>
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import multiprocessing as mp
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

LOOPBACK = ["127.0.0.1"]
FPS = 30
GOP_SECONDS = 2
LOOP_SECONDS = 10
SESSION = 1


# -- signalling: one JSON object per line over TCP ------------------------------------------------------
async def ask(port: int, request: dict[str, Any]) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(json.dumps(request).encode() + b"\n")
    await writer.drain()
    line = await reader.readline()
    writer.close()
    answer: dict[str, Any] = json.loads(line)
    return answer


class LoopLag:
    """The longest time the event loop was late to wake a 10 ms sleeper, since the last reading."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - start - 0.01)

    def read(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst


# -- the relay process ----------------------------------------------------------------------------------
def relay_main(port_out: Any, media_dir: str, hls: bool, lean: bool, profile: str | None) -> None:
    if profile:
        import cProfile

        cProfile.runctx("asyncio.run(_relay(port_out, media_dir, hls, lean))", globals(), locals(), profile)
    else:
        asyncio.run(_relay(port_out, media_dir, hls, lean))


async def _relay(port_out: Any, media_dir: str, hls: bool, lean: bool) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, format="# relay: %(levelname)s %(name)s %(message)s")
    logging.getLogger("web.media").setLevel(logging.INFO)
    from web.media import tap
    from web.media.frames import Kind
    from web.media.peers import announce_addresses
    from web.media.relay import Source
    from web.media.service import Audience, MediaConfig, MediaRefused, MediaService

    with tap.count_encodes() as encodes:
        service = MediaService(MediaConfig(Path(media_dir), [], hls=hls, record=hls, lean_rtp=lean), None, None)  # type: ignore[arg-type]
        await service.start()
        announce_addresses(LOOPBACK)
        broadcast = service._broadcast(Audience(SESSION, 1, 1, None, None))
        done = asyncio.Event()
        lag = LoopLag()
        refused = [0]

        def usage() -> float:
            r = resource.getrusage(resource.RUSAGE_SELF)
            return r.ru_utime + r.ru_stime

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = json.loads(await reader.readline())
            if request["op"] == "publish":
                _, sdp = await service.publish(broadcast, request["sdp"], Source("presenter", "bench"))
                reply: dict[str, Any] = {"sdp": sdp}
            elif request["op"] == "view":
                try:
                    _, sdp = await service.view(broadcast, request["sdp"])
                    reply = {"sdp": sdp}
                except MediaRefused as e:  # admission control: the relay is behind (or full)
                    refused[0] += 1
                    reply = {"refused": e.message}
            elif request["op"] == "stats":
                queues = [t.queue.stats for t in broadcast.channel.viewers[Kind.VIDEO]]
                muxer = broadcast.muxer
                lost = received = 0
                if broadcast.presenter is not None and Kind.VIDEO in broadcast.presenter.receivers:
                    receiver = broadcast.presenter.receivers[Kind.VIDEO]
                    streams = getattr(receiver, "_RTCRtpReceiver__remote_streams")  # noqa: B009 (media and RTX)
                    for stream in streams.values():
                        lost += stream.packets_lost
                        received += stream.packets_received
                reply = {"packets_lost": lost, "packets_received": received, "lag": lag.read(), "refused": refused[0],
                         "cpu": usage(), "t": time.monotonic(), "viewers": broadcast.channel.viewer_count,
                         "encoders": encodes.encoders, "encoded_frames": encodes.frames,
                         "dropped": sum(q.dropped for q in queues), "overflows": sum(q.overflows for q in queues),
                         "keyframe_requests_upstream": broadcast.channel.keyframes.sent,
                         "frames_in": broadcast.presenter.video_frames if broadcast.presenter else 0,
                         "bytes_in": broadcast.presenter.bytes if broadcast.presenter else 0,
                         "segments": muxer.stats.segments if muxer else 0}
            else:
                done.set()
                reply = {}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=512)
        port_out.send(server.sockets[0].getsockname()[1])
        await done.wait()
        server.close()
        await service.stop()


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


# -- the orchestra ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument("--warmup", type=float, default=10.0, help="after every viewer is connected")
    parser.add_argument("--processes", type=int, default=3, help="viewer processes")
    parser.add_argument("--decoders", type=int, default=3, help="viewers that decode every frame (at least 3)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--bitrate", type=int, default=1_500_000)
    parser.add_argument("--no-hls", action="store_true", help="relay only: no HLS segments or recording")
    parser.add_argument("--viewer-nice", type=int, default=5,
                        help="niceness of the viewer processes (the load generator yields to the relay)")
    parser.add_argument("--aiortc-rtp", action="store_true", help="send with aiortc's own RTP loop, not tap.relay_rtp")
    parser.add_argument("--profile", help="write a cProfile of the relay process to this file")
    args = parser.parse_args()
    decoders = max(3, args.decoders) if args.viewers >= 3 else args.viewers
    processes = max(1, min(args.processes, args.viewers))
    ctx = mp.get_context("spawn")
    log = sys.stderr

    with tempfile.TemporaryDirectory(prefix="hoinghi-media-bench-") as media_dir:
        port_in, port_out = ctx.Pipe(duplex=False)
        relay = ctx.Process(target=relay_main, daemon=True,
                            args=(port_out, media_dir, not args.no_hls, not args.aiortc_rtp, args.profile))
        relay.start()
        port = port_in.recv()
        ready_in, ready_out = ctx.Pipe(duplex=False)
        stop_in, stop_out = ctx.Pipe(duplex=False)
        publisher = ctx.Process(target=publisher_main, daemon=True,
                                args=(port, args.width, args.height, args.bitrate, ready_out, stop_in))
        publisher.start()
        source = ready_in.recv()
        print(f"# source: {args.width}x{args.height} {FPS} fps, {source['bitrate'] / 1e6:.2f} Mbps "
              f"({source['frames']} frames, {source['keyframes']} keyframes in {LOOP_SECONDS} s, looped)", file=log)
        time.sleep(1.0)

        groups, pipes = [], []
        share = [args.viewers // processes + (i < args.viewers % processes) for i in range(processes)]
        for i, n in enumerate(share):
            parent, child = ctx.Pipe()
            process = ctx.Process(target=viewers_main, daemon=True,
                                  args=(port, n, decoders if i == 0 else 0, child, args.viewer_nice))
            process.start()
            groups.append(process)
            pipes.append(parent)
        for parent in pipes:
            assert parent.recv() == "connected"
        print(f"# {args.viewers} viewers in {processes} processes connected; warm-up {args.warmup:.0f} s", file=log)
        time.sleep(args.warmup)

        def snapshot() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            stats = asyncio.run(ask(port, {"op": "stats"}))
            for parent in pipes:
                parent.send("count")
            return stats, [parent.recv() for parent in pipes]

        load_before = os.getloadavg()
        relay0, viewers0 = snapshot()
        time.sleep(args.seconds)
        relay1, viewers1 = snapshot()
        elapsed = relay1["t"] - relay0["t"]

        fps: list[float] = []
        decoding_fps: list[float] = []
        connected = 0
        for before, after in zip(viewers0, viewers1, strict=True):
            connected += after["connected"]
            for i, (a, b) in enumerate(zip(before["counts"], after["counts"], strict=True)):
                fps.append((b - a) / elapsed)
                if i in after["decoding"]:
                    decoding_fps.append((b - a) / elapsed)
        relay_cpu = relay1["cpu"] - relay0["cpu"]
        viewer_cpu = sum(b["cpu"] - a["cpu"] for a, b in zip(viewers0, viewers1, strict=True))
        ingest = (relay1["frames_in"] - relay0["frames_in"]) / elapsed
        in_mbps = (relay1["bytes_in"] - relay0["bytes_in"]) * 8 / elapsed / 1e6
        print(f"# window {elapsed:.1f} s; peers connected {connected}/{args.viewers}; relay ingest {ingest:.1f} "
              f"video frames/s, {in_mbps:.2f} Mbps (audio and video)", file=log)
        print(f"# relay: {relay_cpu / elapsed * 100:.0f}% of a core; viewer processes: "
              f"{viewer_cpu / elapsed * 100:.0f}% of a core in all; load average {load_before[0]:.2f} -> "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=log)
        print(f"# decoding viewers: {', '.join(f'{f:.1f}' for f in decoding_fps)} fps; frames dropped by "
              f"viewer queues {relay1['dropped'] - relay0['dropped']}; keyframe requests upstream "
              f"{relay1['keyframe_requests_upstream']}; HLS segments {relay1['segments']}", file=log)
        print(f"# publisher to relay: {relay1['packets_received'] - relay0['packets_received']} video packets "
              f"received (retransmissions included), {relay1['packets_lost'] - relay0['packets_lost']} lost; relay "
              f"event loop late by up to {relay1['lag'] * 1000:.0f} ms", file=log)
        print(f"# viewers turned away while connecting (the relay behind its packets): {relay1['refused']}", file=log)
        print(f"# aiortc encoders created in the relay process: {relay1['encoders']}, frames encoded: "
              f"{relay1['encoded_frames']}", file=log)

        asyncio.run(ask(port, {"op": "stop"}))
        for parent in pipes:
            parent.send("stop")
        stop_out.send(True)
        for process in [*groups, publisher, relay]:
            process.join(timeout=20)
            if process.is_alive():
                process.kill()

    viewers = len(fps)
    per_viewer_encodes = relay1["encoded_frames"]  # frames aiortc encoded in the relay process: all would be per viewer
    print(f"viewers={viewers} min_fps={min(fps):.2f} median_fps={statistics.median(fps):.2f} "
          f"relay_cpu_ms_per_viewer_s={relay_cpu * 1000 / (viewers * elapsed):.2f} "
          f"per_viewer_encodes={per_viewer_encodes}")


if __name__ == "__main__":
    main()
