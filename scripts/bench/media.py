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
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media_publisher import FPS, LOOP_SECONDS, publisher_main
from media_relay import ask, relay_main
from media_viewers import viewers_main


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
