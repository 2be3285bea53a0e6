"""The fan-out bench's subscribers: client processes holding thousands of WebSocket connections to the hubs
(ours: ticket, hello, subscribe, ping; python-socketio: Engine.IO v4, join a room), each recording the
frames of its sampled connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import rss_kib

ORGANISER = ("bantochuc.tinh", "hoinghi-demo")  # the demo province's organiser (web/demo/accounts.py)
HEARTBEAT_S = 15.0
TICKET_REUSE_S = 40.0  # tickets live 60 s
HTTP_TIMEOUT = 30.0





# -- the subscribers (client processes) ----------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    host: str
    port: int


@dataclass(frozen=True)
class WorkerSpec:
    kind: str  # "hoinghi" or "socketio"
    targets: list[Target]
    indices: list[int]  # global client numbers; client i goes to target i % len(targets)
    sampled: list[int]  # those that record every frame
    topic: str  # hoinghi: the topic; socket.io: the room
    deflate: bool
    concurrency: int


CHANGE, SNAPSHOT, COUNT = b'{"type":"change"', b'{"type":"snapshot"', b'42["count"'


class Client:
    __slots__ = ("bytes", "closed", "failed", "frames", "index", "last", "marked", "marked_bytes", "ready", "sampled",
                 "seen", "target", "ws")

    def __init__(self, index: int, target: Target, sampled: bool) -> None:
        self.index = index
        self.target = target
        self.sampled = sampled
        self.ws: Any = None
        self.ready = False
        self.failed = ""
        self.closed: int | None = None  # close code when the server closed us after we were in (-1: our error)
        self.frames = 0  # change/snapshot (hoinghi) or count (socket.io) frames received
        self.marked = 0
        self.bytes = 0  # of those frames (as received: after inflating)
        self.marked_bytes = 0
        self.last: bytes = b""  # the latest frame carrying a count (not-sampled clients parse it at the end)
        self.seen: list[tuple[float, int]] = []  # sampled: (receive time, in_person) of every frame with a count

    def count_of(self, data: bytes) -> int | None:
        if data.startswith(COUNT):
            return int(json.loads(data[2:])[1]["in_person"])
        n = json.loads(data).get("data", {}).get("totals", {}).get("in_person")
        return None if n is None else int(n)

    def final(self) -> int | None:
        if self.sampled:
            return max((n for _, n in self.seen), default=None)
        return self.count_of(self.last) if self.last else None


class Tickets:
    """An organiser's tickets, one signed-in HTTP client per hub, each ticket reused for 40 s."""

    def __init__(self) -> None:
        self._clients: dict[Target, tuple[Any, str]] = {}
        self._cache: dict[Target, tuple[str, float]] = {}
        self._locks: dict[Target, asyncio.Lock] = {}

    async def get(self, target: Target) -> str:
        import httpx2

        async with self._locks.setdefault(target, asyncio.Lock()):
            cached = self._cache.get(target)
            if cached and time.monotonic() - cached[1] < TICKET_REUSE_S:
                return cached[0]
            if target not in self._clients:
                http = httpx2.AsyncClient(base_url=f"http://{target.host}:{target.port}", timeout=60)
                page = (await http.get("/login")).text
                csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                await http.post("/login", data={"username": ORGANISER[0], "password": ORGANISER[1], "csrf": csrf})
                self._clients[target] = (http, (await http.get("/api/me")).json()["csrf_token"])
            http, token = self._clients[target]
            answer = await http.post("/api/live/ticket", headers={"X-CSRF-Token": token})
            answer.raise_for_status()
            ticket = str(answer.json()["ticket"])
            self._cache[target] = (ticket, time.monotonic())
            return ticket

    async def aclose(self) -> None:
        for http, _ in self._clients.values():
            await http.aclose()


async def _hoinghi_session(c: Client, spec: WorkerSpec, tickets: Tickets) -> None:
    from websockets.asyncio.client import connect

    ws = await connect(f"ws://{c.target.host}:{c.target.port}/ws", compression="deflate" if spec.deflate else None,
                       ping_interval=None, open_timeout=120, close_timeout=1, max_size=2 ** 24)
    c.ws = ws
    await ws.send(json.dumps({"type": "hello", "v": 1, "ticket": await tickets.get(c.target)}))
    welcome = json.loads(await ws.recv())
    if welcome.get("type") != "welcome":
        raise ConnectionError(f"no welcome: {welcome}")
    await ws.send(json.dumps({"type": "subscribe", "topic": spec.topic}))
    while not c.ready:
        data = await ws.recv(decode=False)
        if data.startswith(b'{"type":"error"'):
            raise ConnectionError(data[:200].decode())
        _hoinghi_frame(c, data)


def _hoinghi_frame(c: Client, data: bytes) -> None:
    if data.startswith(CHANGE) or data.startswith(SNAPSHOT):
        c.frames += 1
        c.bytes += len(data)
        c.ready = True
        if c.sampled:
            n = c.count_of(data)
            if n is not None:
                c.seen.append((time.monotonic(), n))
        elif b'"totals"' in data:
            c.last = data


async def _sio_session(c: Client, spec: WorkerSpec) -> None:
    from websockets.asyncio.client import connect

    ws = await connect(f"ws://{c.target.host}:{c.target.port}/socket.io/?EIO=4&transport=websocket",
                       compression="deflate" if spec.deflate else None, ping_interval=None, open_timeout=120,
                       close_timeout=1, max_size=2 ** 24)
    c.ws = ws
    opening = await ws.recv()
    if not str(opening).startswith("0{"):
        raise ConnectionError(f"no Engine.IO open packet: {opening!r}")
    await ws.send("40")
    connected = await ws.recv()
    if not str(connected).startswith("40"):
        raise ConnectionError(f"no socket.io connect: {connected!r}")
    await ws.send(json.dumps(["join", spec.topic]).join(("42", "")))
    while not c.ready:
        await _sio_frame(c, await ws.recv(decode=False))


async def _sio_frame(c: Client, data: bytes) -> None:
    if data == b"2":  # Engine.IO ping: answer pong
        await c.ws.send("3")
    elif data.startswith(COUNT):
        c.frames += 1
        c.bytes += len(data)
        c.ready = True
        if c.sampled:
            c.seen.append((time.monotonic(), int(json.loads(data[2:])[1]["in_person"])))
        else:
            c.last = data


async def _client(c: Client, spec: WorkerSpec, gate: asyncio.Semaphore, tickets: Tickets,
                  settled: Callable[[], None]) -> None:
    from websockets.exceptions import ConnectionClosed

    for attempt in range(6):
        try:
            async with gate:
                if spec.kind == "hoinghi":
                    await _hoinghi_session(c, spec, tickets)
                else:
                    await _sio_session(c, spec)
            break
        except Exception as e:
            if c.ws is not None:
                with contextlib.suppress(Exception):
                    await c.ws.close()
                c.ws = None
            c.failed = f"{type(e).__name__}: {str(e)[:120]}"
            await asyncio.sleep(0.5 * 2 ** attempt)
    else:
        settled()
        return
    c.failed = ""
    settled()
    ws = c.ws
    try:
        if spec.kind == "hoinghi":
            while True:
                _hoinghi_frame(c, await ws.recv(decode=False))
        else:
            while True:
                await _sio_frame(c, await ws.recv(decode=False))
    except ConnectionClosed as e:
        c.closed = e.rcvd.code if e.rcvd is not None else 1006
    except Exception as e:  # a frame this client could not read: counted with the closed ones, as -1
        c.closed, c.failed = -1, f"{type(e).__name__}: {str(e)[:120]}"


async def _pinger(clients: list[Client]) -> None:
    """The protocol's heartbeat: every subscriber pings every 15 s, spread evenly over the period."""
    ping = json.dumps({"type": "ping"})
    while True:
        started = time.monotonic()
        for n, c in enumerate(clients):
            if c.ws is not None and c.ready and c.closed is None:
                with contextlib.suppress(Exception):
                    await c.ws.send(ping)
            if n % 50 == 49:
                await asyncio.sleep(max(0.0, started + HEARTBEAT_S * (n + 1) / len(clients) - time.monotonic()))
        await asyncio.sleep(max(0.0, started + HEARTBEAT_S - time.monotonic()))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _worker(pipe: Connection, spec: WorkerSpec) -> None:
    sampled = set(spec.sampled)
    clients = [Client(i, spec.targets[i % len(spec.targets)], i in sampled) for i in spec.indices]
    gate = asyncio.Semaphore(spec.concurrency)
    tickets = Tickets()
    done = asyncio.Event()
    settled_count = 0

    def settled() -> None:
        nonlocal settled_count
        settled_count += 1
        if settled_count == len(clients):
            done.set()

    started = time.monotonic()
    tasks = [asyncio.create_task(_client(c, spec, gate, tickets, settled)) for c in clients]
    # heartbeats from the start: connecting thousands can outlast the hub's 60 s silence limit
    pinger = asyncio.create_task(_pinger(clients)) if spec.kind == "hoinghi" else None
    if not clients:
        done.set()
    await done.wait()
    pipe.send(("connected", {"ready": sum(c.ready and not c.failed for c in clients),
                             "failed": Counter(c.failed for c in clients if c.failed),
                             "seconds": time.monotonic() - started, "cpu": _cpu()}))
    while True:
        command = await asyncio.to_thread(pipe.recv)
        if command == "mark":
            for c in clients:
                c.marked, c.marked_bytes = c.frames, c.bytes
            pipe.send(("marked", _cpu()))
        elif command == "status":
            tops = [max((n for _, n in c.seen), default=-1) for c in clients if c.sampled and c.closed is None]
            pipe.send(("status", {"sample_min": min(tops, default=None),
                                  "closed": sum(c.closed is not None for c in clients)}))
        elif command == "report":
            pipe.send(("report", {
                "seen": [c.seen for c in clients if c.sampled],
                "frames": [c.frames - c.marked for c in clients if c.ready],
                "bytes": sum(c.bytes - c.marked_bytes for c in clients if c.ready),
                "finals": [c.final() for c in clients if c.ready],
                "closed": Counter(c.closed for c in clients if c.closed is not None),
                "cpu": _cpu(), "rss_kib": rss_kib(os.getpid())}))
        elif command == "close":
            if pinger is not None:
                pinger.cancel()
            for task in tasks:
                task.cancel()
            pipe.send(("closed", None))
            return


def worker_main(pipe: Connection, spec: WorkerSpec) -> None:
    """A client process: holds its share of the subscribers and answers the coordinator's commands."""
    import uvloop

    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1:] * 2)
    uvloop.run(_worker(pipe, spec))
    os._exit(0)  # the sockets close with the process; no close handshakes with thousands of peers


class Workers:
    def __init__(self, specs: list[WorkerSpec]) -> None:
        ctx = mp.get_context("fork")  # no event loop or thread is running in the coordinator between phases
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for spec in specs:
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(theirs, spec), daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    def ask(self, command: str | None, expect: str, timeout: float = 600) -> list[Any]:
        if command is not None:
            for pipe in self.pipes:
                pipe.send(command)
        out = []
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            deadline = time.monotonic() + timeout
            while not pipe.poll(0.5):
                if not proc.is_alive():
                    raise SystemExit(f"fanout bench: client process {proc.pid} died ({proc.exitcode})")
                if time.monotonic() > deadline:
                    raise SystemExit(f"fanout bench: client process {proc.pid} did not answer {command or expect}")
            kind, data = pipe.recv()
            assert kind == expect, (kind, expect)
            out.append(data)
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("close", "closed", 30)
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()

