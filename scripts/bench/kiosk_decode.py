"""Benchmark (issue 15): where should an online kiosk read the QR code, at the server or at the kiosk?

Prepares a fresh database (the demo province, a session open for check-in now, `--kiosks` enrolled
kiosks), starts ONE `hoinghi serve`, and runs the same door twice, each for `--seconds`, every kiosk
sampling its camera at `--fps` and a new person showing their QR every `--every` seconds (held up
until the verdict comes, then the camera sees the hall again):

  frames  today's camera path: every sampled frame (a 640×480 JPEG, quality 75, the QR at about a third
          of the height in a lit scene) goes to the server over the live WebSocket, one unanswered at a
          time; the server reads it (web/kiosk/vision.py) and sends the verdict.
  text    the kiosk reads the frame itself and sends only the text to POST /api/checkins (the check-in the
          page makes after a local read); each sampled frame costs the kiosk the read time measured in
          Chromium (below), spent as waiting, not as server work. The live WebSocket stays open (hello,
          camera, pings) as the page keeps it.

For each: the server's CPU (user+system from /proc, worker threads included) per kiosk-second and per
check-in, and the time to verdict from the moment the person holds the code up (so the wait for the
next sampled frame is in both). Separately, the kiosk's own cost: headless Chromium (/usr/bin/chromium)
opens the kiosk page (its CSP compiles WebAssembly), and times zxing-wasm's `readBarcodes`, with the
options kiosk_decoder.js uses, over a few 640×480 frames with and without a code: wall ms per read and
the browser's CPU ms per read (its processes' CPU from /proc).

    uv run python scripts/bench/kiosk_decode.py                      # 10 kiosks, 30 s each, 5 fps
    uv run python scripts/bench/kiosk_decode.py --kiosks 20 --seconds 60 --every 2

The last line is machine-readable:

    frames_cpu_ms_per_kiosk_s=<f> text_cpu_ms_per_kiosk_s=<f> frames_verdict_p50_ms=<f> text_verdict_p50_ms=<f>
    kiosk_read_ms=<f> kiosk_read_cpu_ms=<f>      (on the same line)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from web.settings import load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HOST, Server, create_database, drop_database, free_port, percentile
from kiosk_load import Item, Kiosk, _connect, _request
from kiosk_read import KioskRead, kiosk_read
from scan_plan import prepare
from vision import code_image, place, scene

WIDTH, HEIGHT = 640, 480
JPEG_QUALITY = 75  # `hoinghi kiosk`'s (the page's canvas: 0.7)
IN_FLIGHT_S = 1.5  # the page's: an unanswered frame stops holding the next back after this


@dataclass
class Door:
    """One kiosk's run: who comes when, and what it measured."""

    kiosk: Kiosk
    items: list[Item]
    qr: list[bytes]  # the camera frame of each person's code
    phase: float  # when the first person comes, after the start
    verdicts: list[float] = field(default_factory=list)  # seconds from holding the code up to the verdict
    outcomes: list[str] = field(default_factory=list)
    frames: int = 0
    coded: int = 0  # frames sampled while a code was held up
    missed: int = 0


def frame_jpeg(image: Any) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return bytes(data.tobytes())


def qr_jpeg(text: str, rng: np.random.Generator) -> bytes:
    code = code_image(text)
    return frame_jpeg(place(code, scene(WIDTH, HEIGHT, rng), HEIGHT * rng.uniform(0.3, 0.4),
                            rng.uniform(-10, 10), 0.0, rng))


# -- the two doors --------------------------------------------------------------------------------------
async def hub(url: str, token: str, session_id: int) -> tuple[ClientConnection, float]:
    ws = await connect(url, max_size=2**20)
    await ws.send(json.dumps({"type": "hello", "v": 1, "device_token": token}))
    welcome = json.loads(await ws.recv())
    await ws.send(json.dumps({"type": "camera", "session_id": session_id, "mode": "qr", "lang": "vi"}))
    ready = json.loads(await ws.recv())
    if ready.get("type") != "camera":
        raise SystemExit(f"kiosk decode bench: the hub refused the camera: {ready}")
    return ws, float(welcome.get("heartbeat_s", 20))


class Clock:
    """Who is at the door when: person n holds the code up at t0 + phase + n × every, until answered."""

    def __init__(self, door: Door, t0: float, every: float) -> None:
        self.door, self.t0, self.every = door, t0, every
        self.done: set[int] = set()

    def showing(self, now: float) -> int | None:
        n = int((now - self.t0 - self.door.phase) // self.every)
        if n < 0 or n >= len(self.door.items) or n in self.done:
            return None
        return n

    def came(self, n: int) -> float:
        return self.t0 + self.door.phase + n * self.every

    def answered(self, n: int, outcome: str, now: float) -> None:
        if n not in self.done:
            self.done.add(n)
            self.door.verdicts.append(now - self.came(n))
            self.door.outcomes.append(outcome)

    def finish(self, until: float) -> None:
        self.door.missed = sum(1 for n in range(len(self.door.items))
                               if n not in self.done and self.came(n) + 2 < until)


async def pinger(ws: ClientConnection, heartbeat: float) -> None:
    while True:
        await asyncio.sleep(heartbeat / 2)
        await ws.send('{"type":"ping"}')


async def frames_door(door: Door, url: str, session_id: int, blank: list[bytes], fps: float, every: float,
                      t0: float, until: float) -> None:
    ws, heartbeat = await hub(url, door.kiosk.token, session_id)
    clock = Clock(door, t0, every)
    person = {i.person_id: n for n, i in enumerate(door.items)}
    answered = asyncio.Event()
    answered.set()

    async def read() -> None:
        async for raw in ws:
            if isinstance(raw, bytes):
                continue
            m = json.loads(raw)
            if m.get("type") == "read":
                answered.set()
            elif m.get("type") == "verdict" and m.get("person"):
                n = person.get(m["person"]["person_id"])
                if n is not None:
                    clock.answered(n, m["outcome"], time.perf_counter())

    tasks = [asyncio.create_task(read()), asyncio.create_task(pinger(ws, heartbeat))]
    sent_at, tick = 0.0, t0 + random.random() / fps
    while tick < until:
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        tick += 1 / fps
        now = time.perf_counter()
        if not answered.is_set() and now - sent_at < IN_FLIGHT_S:
            continue
        n = clock.showing(now)
        answered.clear()
        sent_at = now
        await ws.send(door.qr[n] if n is not None else blank[door.frames % len(blank)])
        door.frames += 1
        door.coded += n is not None
    await asyncio.sleep(1.0)  # the last answers
    clock.finish(until)
    for task in tasks:
        task.cancel()
    await ws.close()


async def text_door(door: Door, url: str, session_id: int, read: KioskRead, fps: float, every: float,
                    t0: float, until: float, port: int) -> None:
    ws, heartbeat = await hub(url, door.kiosk.token, session_id)
    clock = Clock(door, t0, every)
    conn = await _connect(HOST, port)
    host_header, token = f"{HOST}:{port}".encode(), door.kiosk.token.encode()
    tasks = [asyncio.create_task(pinger(ws, heartbeat))]
    busy: set[int] = set()

    async def check_in(n: int) -> None:
        status, body = await conn.request(_request(host_header, token, session_id, door.items[n]))
        clock.answered(n, json.loads(body)["outcome"] if status == 200 else f"http {status}", time.perf_counter())
        busy.discard(n)

    tick = t0 + random.random() / fps
    while tick < until:
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        tick += 1 / fps
        n = clock.showing(time.perf_counter())
        door.frames += 1
        door.coded += n is not None
        await asyncio.sleep((read.qr_ms if n is not None else read.blank_ms) / 1000)  # the kiosk reads the frame
        if n is not None and n not in busy:
            busy.add(n)  # one request at a time on the connection: a person is answered within a frame or two
            tasks.append(asyncio.create_task(check_in(n)))
    await asyncio.sleep(1.0)
    clock.finish(until)
    for task in tasks:
        task.cancel()
    if conn.transport is not None:
        conn.transport.close()
    await ws.close()


@dataclass
class Run:
    name: str
    doors: list[Door]
    seconds: float
    cpu: float

    @property
    def verdicts_ms(self) -> list[float]:
        return sorted(v * 1000 for d in self.doors for v in d.verdicts)

    @property
    def cpu_ms_per_kiosk_s(self) -> float:
        return self.cpu * 1000 / (len(self.doors) * self.seconds)


def drive(name: str, doors: list[Door], server: Server, session_id: int, args: argparse.Namespace,
          blank: list[bytes], read: KioskRead) -> Run:
    url = f"ws://{HOST}:{server.port}/ws"

    async def go() -> None:
        t0 = time.perf_counter() + 1.0
        until = t0 + args.seconds
        if name == "frames":
            await asyncio.gather(*(frames_door(d, url, session_id, blank, args.fps, args.every, t0, until)
                                   for d in doors))
        else:
            await asyncio.gather(*(text_door(d, url, session_id, read, args.fps, args.every, t0, until, server.port)
                                   for d in doors))

    cpu0 = server.tree_cpu()
    asyncio.run(go())
    return Run(name, doors, args.seconds, server.tree_cpu() - cpu0)


# -- main -----------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiosks", type=int, default=10, help="kiosks at their doors, all at once")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each door runs")
    parser.add_argument("--fps", type=float, default=5.0, help="camera frames sampled a second (the page's 5)")
    parser.add_argument("--every", type=float, default=3.0, help="seconds between people at one kiosk")
    parser.add_argument("--members", type=int, default=6000, help="members in the demo province")
    parser.add_argument("--rounds", type=int, default=5, help="reads of each frame in Chromium")
    parser.add_argument("--database", help="database URL (default: a new SQLite file)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.kiosks < 1 or args.seconds <= 0 or args.fps <= 0 or args.every <= 0:
        parser.error("need --kiosks ≥ 1 and positive --seconds, --fps, --every")

    people = int(args.seconds // args.every) + 1
    workdir = Path(tempfile.mkdtemp(prefix="hoinghi-kiosk-decode-"))
    db = create_database(args.database, workdir)
    server: Server | None = None
    random.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    try:
        settings = load({}, None, database_url=db.url, secret_key=secrets.token_urlsafe(32),
                        data_key=secrets.token_urlsafe(32), data_dir=workdir / "data", redis_url="")
        plan_args = argparse.Namespace(members=args.members, kiosks=args.kiosks, checkins=6 * people * args.kiosks,
                                       repeats=0.0, forged=0.0)  # more than needed: small halls get fewer
        print(f"kiosk decode bench: preparing ({args.members:,} members, {args.kiosks} kiosks) …", file=sys.stderr,
              flush=True)
        plan = asyncio.run(prepare(settings, plan_args, random.Random(args.seed)))
        kiosks = [k for k in plan.kiosks if len(k.items) >= 2 * people]
        if len(kiosks) < args.kiosks:
            print(f"kiosk decode bench: note: only {len(kiosks)} kiosks have {2 * people} people in their hall",
                  file=sys.stderr)
        blank = [frame_jpeg(scene(WIDTH, HEIGHT, rng)) for _ in range(8)]
        doors = {name: [Door(k, k.items[half * people:(half + 1) * people],
                             [qr_jpeg(i.credential, rng) for i in k.items[half * people:(half + 1) * people]],
                             random.random() * args.every) for k in kiosks]
                 for half, name in enumerate(("frames", "text"))}

        server = Server(settings, free_port(), workdir, None)
        base = f"http://{HOST}:{server.port}"
        print("kiosk decode bench: the kiosk's read in Chromium …", file=sys.stderr, flush=True)
        read = kiosk_read(base, doors["frames"][0].qr[:6], blank[:6], args.rounds)
        busy0 = os.getloadavg()[0]
        runs = []
        for name in ("frames", "text"):
            print(f"kiosk decode bench: {name}: {len(kiosks)} kiosks × {args.seconds:g} s at {args.fps:g} fps …",
                  file=sys.stderr, flush=True)
            runs.append(drive(name, doors[name], server, plan.session_id, args, blank, read))
        code = server.stop()
        report(args, runs, read, code, server.tail(15).count("Traceback"), (busy0 + os.getloadavg()[0]) / 2)
    finally:
        if server is not None and server.proc.poll() is None:
            server.stop()
        drop_database(db)
        shutil.rmtree(workdir, ignore_errors=True)


def kiosk_cpu(run: Run, read: KioskRead) -> float:
    """The browser's CPU ms a kiosk-second for reading every sampled frame itself."""
    coded = sum(d.coded for d in run.doors)
    blank = sum(d.frames for d in run.doors) - coded
    return (coded * read.qr_cpu_ms + blank * read.blank_cpu_ms) / (len(run.doors) * run.seconds)


def report(args: argparse.Namespace, runs: list[Run], read: KioskRead, code: int, tracebacks: int,
           load: float) -> None:
    rows: list[tuple[str, str, str]] = [("", "frames to server", "text from kiosk")]

    def row(label: str, value: Any) -> None:
        rows.append((label, *(value(r) for r in runs)))

    row("kiosks × seconds", lambda r: f"{len(r.doors)} × {r.seconds:g}")
    row("frames sampled", lambda r: f"{sum(d.frames for d in r.doors):,}")
    row("verdicts (accepted)",
        lambda r: f"{len(r.verdicts_ms)} ({sum(o == 'accepted' for d in r.doors for o in d.outcomes)})")
    row("people not answered", lambda r: f"{sum(d.missed for d in r.doors)}")
    row("server CPU s", lambda r: f"{r.cpu:.2f}")
    row("server CPU ms per kiosk-second", lambda r: f"{r.cpu_ms_per_kiosk_s:.2f}")
    row("server CPU ms per check-in", lambda r: f"{r.cpu * 1000 / max(1, len(r.verdicts_ms)):.1f}")
    row("time to verdict p50 / p90 / max ms",
        lambda r: " / ".join(f"{percentile(r.verdicts_ms, q):.0f}" for q in (50, 90, 100)))
    rows += [
        ("kiosk read, wall ms (code / none)", "-", f"{read.qr_ms:.1f} / {read.blank_ms:.1f}"),
        ("kiosk read, browser CPU ms (code / none)", "-", f"{read.qr_cpu_ms:.1f} / {read.blank_cpu_ms:.1f}"),
        ("kiosk CPU ms per kiosk-second", "-", f"{kiosk_cpu(runs[1], read):.0f}"),
        ("codes the kiosk read in Chromium", "-", f"{read.found} of {read.frames}"),
        ("server exit code / tracebacks", f"{code} / {tracebacks}", ""),
        ("load average (1 min)", f"{load:.1f} ({os.cpu_count()} cores)", ""),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print()
    for label, a, b in rows:
        print(f"{label:<{width[0]}}  {a:<{width[1]}}  {b}")
    frames, text = runs
    print(f"frames_cpu_ms_per_kiosk_s={frames.cpu_ms_per_kiosk_s:.2f} "
          f"text_cpu_ms_per_kiosk_s={text.cpu_ms_per_kiosk_s:.2f} "
          f"frames_verdict_p50_ms={percentile(frames.verdicts_ms, 50):.0f} "
          f"text_verdict_p50_ms={percentile(text.verdicts_ms, 50):.0f} kiosk_read_ms={read.qr_ms:.1f} "
          f"kiosk_read_cpu_ms={read.qr_cpu_ms:.1f}")


if __name__ == "__main__":
    main()
