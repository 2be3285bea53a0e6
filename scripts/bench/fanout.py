"""Benchmark: live fan-out, from a committed check-in to the count on thousands of dashboards.

Prepares a fresh database (the demo province, `--members` people, a session whose check-in is open
now, one enrolled kiosk), starts `--hubs` `hoinghi serve` processes (two or more share PostgreSQL
and a Redis server of the benchmark's own), and opens `--clients` WebSocket subscribers spread over
the hubs from `--procs` client processes. Each subscriber is a plain `websockets` client that says
hello with an organiser's ticket, subscribes to the province topic `session:S/unit:U`, pings every
15 s and reads every frame. Then a check-in storm (`--rate` per second for `--duration` s, QR texts
of invited people, unique nonces) goes through the hubs' HTTP API (`POST /api/checkins`, the kiosk's
bearer token, spread over the hubs).

Latency of check-in k: the first time a sampled subscriber receives a frame whose
`totals.in_person` counts it (≥ baseline + k) minus the time the k-th accepted check-in was
acknowledged (acknowledgements in time order). `--sample` subscribers record every frame; all of
them stay connected and reading. Memory: the hubs' RSS (VmRSS) after all subscribers are in, less
before, per subscriber. CPU: the hubs' CPU seconds during the storm and until it has been delivered.

The same scenario then runs against python-socketio (`scripts/bench/sio_app.py`): an ASGI
`AsyncServer` under uvicorn, one process per hub, `AsyncRedisManager` on the same Redis when there
are several; subscribers speak Engine.IO v4 over the same `websockets` client and join a room; each
check-in is an HTTP POST that increments a counter (in Redis for several processes), is answered, and
is then emitted to the room, one emit per check-in.

Both sides: the table also gives latency from each check-in's due time (which includes the wait for
an overloaded server to acknowledge it). A check-in that cannot even be sent within `--overrun`
seconds of the storm's scheduled end is dropped and counted. Delivery still outstanding `--drain`
seconds after the last acknowledgement is censored at that moment (the table says how many; above
1% of the samples the p99 is a lower bound). Servers that grow past `--rss-cap-mib` stop the storm.
`--profile DIR` runs the hubs under cProfile counting CPU time; `--compression none` has the
subscribers not offer permessage-deflate (browsers do offer it).

    uv run python scripts/bench/fanout.py --clients 10000 --hubs 1
    uv run python scripts/bench/fanout.py --clients 10000 --hubs 2      # PostgreSQL and Redis
    uv run python scripts/bench/fanout.py --clients 500                 # smoke, about a minute

The last line is machine-readable (ratio = our p99 / socket.io p99; below 1 means faster):

    clients=<n> hubs=<n> p50_ms=<float> p99_ms=<float> kib_per_conn=<float> vs_socketio_p99=<ratio>
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import resource
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HOST, Server, cpu_seconds, create_database, drop_database, free_port, machine_busy, percentile
from kiosk_load import Item, _connect, _Connection, _request

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
ORGANISER = ("bantochuc.tinh", "hoinghi-demo")  # the demo province's organiser (web/demo/province.py)
HEARTBEAT_S = 15.0
TICKET_REUSE_S = 40.0  # tickets live 60 s
HTTP_TIMEOUT = 30.0


# -- preparation --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    session_id: int
    unit_id: int
    kiosk_token: str
    texts: list[str]  # QR texts of distinct invited people: the first warms up, the rest are the storm


async def prepare(settings: Any, members: int, people: int, seed: int) -> Prepared:
    """The demo province, a session whose check-in is open now, one kiosk, and `people` QR texts."""
    from web.bootstrap import build
    from web.demo import province as demo_data
    from web.demo import seeding

    async with build(settings) as svc:  # migrates the new database
        now = datetime.now(UTC)
        await seeding.seed(svc.engine, svc.conference.passwords, now, members=members)
        svc.conference.forget_units()
        found = await svc.conference.store.user_with_hash(demo_data.ADMIN_USERNAME)
        assert found is not None
        admin = found[0]
        [conf] = await svc.conference.store.list_conferences()
        session = await svc.conference.add_session(admin, conf.id, "Phiên đo phát tán", now + timedelta(minutes=20),
                                                   now + timedelta(hours=4))
        invited = await svc.conference.store.invitations_of(conf.id)
        if len(invited) < people:
            raise SystemExit(f"fanout bench: only {len(invited)} invited people for {people} check-ins: "
                             f"raise --members or lower --rate × --duration")
        chosen = random.Random(seed).sample([i.person_id for i in invited], people)
        creds = await svc.credentials.current(chosen)
        texts = [await svc.credentials.text(creds[p]) for p in chosen]
        halls = Counter(i.hall_id for i in invited)
        code, _ = await svc.devices.issue_enrolment_code(halls.most_common(1)[0][0], admin.id)
        _, token = await svc.devices.enrol(code, "Kiosk đo phát tán")
        return Prepared(session.id, conf.organiser_unit_id, token, texts)


class Redis:
    """A redis-server of the benchmark's own on a free port (the machine's Redis is shared)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "",
                                      "--appendonly", "no", "--maxclients", "1000"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() \
                != b"PONG":
            if time.monotonic() > deadline:
                raise SystemExit("fanout bench: redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def rss_kib(pid: int, key: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


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


# -- the storm ----------------------------------------------------------------------------------------
@dataclass
class Ack:
    index: int
    target: int
    due: float
    sent: float = 0.0
    done: float = 0.0
    status: int = 0
    outcome: str = "error"
    detail: str = ""


@dataclass
class Storm:
    acks: list[Ack]
    started: float
    finished: float
    aborted: str = ""
    peak_rss_kib: dict[int, int] = field(default_factory=dict)


async def storm(targets: list[Target], pids: list[int], count: int, rate: float, conns: int,
                make: Callable[[int, Target], bytes], outcome_of: Callable[[bytes], str],
                rss_cap_kib: int, overrun: float) -> Storm:
    """`count` requests, open loop at `rate` per second, request i to target i % len(targets) over
    `conns` keep-alive connections per target. Stops early when a server's RSS passes the cap; a
    request that could not be sent within `overrun` seconds of the last one's due time is dropped."""
    t0 = time.monotonic() + 0.2
    cutoff = t0 + count / rate + overrun
    acks = [Ack(i, i % len(targets), t0 + i / rate) for i in range(count)]
    result = Storm(acks, t0, 0.0, peak_rss_kib=dict.fromkeys(pids, 0))
    stop = asyncio.Event()

    async def watchdog() -> None:
        while not stop.is_set():
            for pid in pids:
                with contextlib.suppress(OSError):
                    rss = rss_kib(pid)
                    result.peak_rss_kib[pid] = max(result.peak_rss_kib[pid], rss)
                    if rss > rss_cap_kib and not result.aborted:
                        result.aborted = f"server {pid} reached {rss / 1024:.0f} MiB (cap {rss_cap_kib / 1024:.0f})"
                        stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    async def line(target_index: int, lane: int) -> None:
        target = targets[target_index]
        mine = [a for a in acks if a.target == target_index and (a.index // len(targets)) % conns == lane]
        conn: _Connection | None = None
        for ack in mine:
            if stop.is_set():
                ack.detail = "not sent: storm stopped"
                continue
            if time.monotonic() > cutoff:
                ack.detail = "not sent: overran"
                continue
            delay = ack.due - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    ack.detail = "not sent: storm stopped"
                    continue
            try:
                if conn is None or conn.closed:
                    conn = await _connect(target.host, target.port)
                ack.sent = time.monotonic()
                status, body = await conn.request(make(ack.index, target))
            except (ConnectionError, OSError, TimeoutError) as e:
                ack.done, ack.detail = time.monotonic(), f"{type(e).__name__}: {e}"
                if conn is not None and conn.transport is not None:
                    conn.transport.close()
                conn = None
                continue
            ack.done, ack.status = time.monotonic(), status
            ack.outcome = outcome_of(body) if status == 200 else "error"
            if status != 200:
                ack.detail = body[:120].decode("utf-8", "replace")
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    guard = asyncio.create_task(watchdog())
    await asyncio.gather(*(line(t, lane) for t in range(len(targets)) for lane in range(conns)))
    result.finished = time.monotonic()
    stop.set()
    await guard
    return result


# -- one system under test ----------------------------------------------------------------------------
@dataclass
class Outcome:
    name: str
    clients: int = 0
    connect_failed: Counter[str] = field(default_factory=Counter)
    connect_s: float = 0.0
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    rss_peak_kib: int = 0
    cpu_connect: float = 0.0
    cpu_storm: float = 0.0
    client_cpu_storm: float = 0.0
    others_cpu: float = 0.0
    window_s: float = 0.0
    accepted: int = 0
    offered: int = 0
    not_accepted: Counter[str] = field(default_factory=Counter)
    ack_ms: list[float] = field(default_factory=list)
    storm_s: float = 0.0
    aborted: str = ""
    latencies: list[float] = field(default_factory=list)  # ms, from the acknowledgement
    from_due: list[float] = field(default_factory=list)  # ms, from when the check-in was due
    censored: int = 0
    drain_s: float = 0.0
    frames: list[int] = field(default_factory=list)
    frame_bytes: int = 0
    backwards: int = 0  # frames whose count was below one the same subscriber had already seen
    backwards_subscribers: int = 0
    backwards_max: int = 0
    finals_ok: int = 0
    closed: Counter[int] = field(default_factory=Counter)
    client_rss_kib: int = 0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    def p(self, q: float, values: list[float] | None = None) -> float:
        return percentile(sorted(self.latencies if values is None else values), q)

    @property
    def kib_per_conn(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.clients if self.clients else float("nan")


@dataclass(frozen=True)
class System:
    """What differs between the two systems under test."""

    name: str
    kind: str
    targets: list[Target]
    pids: list[int]
    topic: str
    make: Callable[[int, Target], bytes]
    outcome_of: Callable[[bytes], str]
    baseline: int  # the count before the storm


def measure(system: System, args: argparse.Namespace, storm_size: int) -> Outcome:
    out = Outcome(system.name)
    n = args.clients
    step = max(1, n // max(1, args.sample))
    sampled = list(range(0, n, step))[:args.sample]
    procs = max(1, min(args.procs, n))
    specs = [WorkerSpec(system.kind, system.targets, list(range(w, n, procs)), [i for i in sampled if i % procs == w],
                        system.topic, args.compression == "deflate", args.connect_concurrency)
             for w in range(procs)]
    out.rss_before_kib = sum(rss_kib(pid) for pid in system.pids)
    cpu0 = sum(cpu_seconds(pid)[0] for pid in system.pids)
    started = time.monotonic()
    workers = Workers(specs)
    try:
        connected = workers.ask(None, "connected", timeout=max(600.0, n / 5))
        out.connect_s = time.monotonic() - started
        out.clients = sum(c["ready"] for c in connected)
        for c in connected:
            out.connect_failed.update(c["failed"])
        time.sleep(args.settle)
        out.rss_after_kib = sum(rss_kib(pid) for pid in system.pids)
        out.cpu_connect = sum(cpu_seconds(pid)[0] for pid in system.pids) - cpu0
        print(f"fanout bench: {system.name}: {out.clients:,} subscribers in {out.connect_s:.1f} s, "
              f"{out.kib_per_conn:.1f} KiB each; storm of {storm_size:,} at {args.rate:g}/s …",
              file=sys.stderr, flush=True)

        client_cpu0 = sum(workers.ask("mark", "marked"))
        cpu0 = sum(cpu_seconds(pid)[0] for pid in system.pids)
        busy0 = machine_busy()
        window0 = time.monotonic()
        import uvloop

        result = uvloop.run(storm(system.targets, system.pids, storm_size, args.rate, args.http_conns, system.make,
                                  system.outcome_of, args.rss_cap_mib * 1024, args.overrun))
        out.aborted = result.aborted
        out.offered = storm_size
        accepted = [a for a in result.acks if a.outcome == "accepted"]
        out.accepted = len(accepted)
        out.not_accepted = Counter(f"{a.outcome}: {a.detail[:60]}" if a.detail else a.outcome
                                   for a in result.acks if a.outcome != "accepted")
        out.ack_ms = sorted((a.done - a.due) * 1000 for a in accepted)
        out.storm_s = result.finished - result.started
        target = system.baseline + out.accepted
        last_ack = max((a.done for a in accepted), default=time.monotonic())
        deadline = last_ack + args.drain
        while True:  # until every sampled subscriber has the final count, or the deadline
            status = workers.ask("status", "status")
            tops = [s["sample_min"] for s in status if s["sample_min"] is not None]
            if all(t >= target for t in tops) or time.monotonic() > deadline:
                break
            peak = max(rss_kib(pid) for pid in system.pids)
            if peak > args.rss_cap_mib * 1024:
                out.aborted = out.aborted or f"a server passed {args.rss_cap_mib} MiB while draining"
                break
            time.sleep(0.1)
        ended = time.monotonic()
        out.drain_s = ended - last_ack
        out.window_s = ended - window0
        out.cpu_storm = sum(cpu_seconds(pid)[0] for pid in system.pids) - cpu0
        out.rss_peak_kib = sum(max(result.peak_rss_kib.get(pid, 0), rss_kib(pid, "VmHWM")) for pid in system.pids)
        reports = workers.ask("report", "report")
        out.client_cpu_storm = sum(r["cpu"] for r in reports) - client_cpu0
        out.others_cpu = max(0.0, machine_busy() - busy0 - out.cpu_storm - out.client_cpu_storm)
        out.load = os.getloadavg()
        out.client_rss_kib = sum(r["rss_kib"] for r in reports)
        for r in reports:
            out.frames += r["frames"]
            out.frame_bytes += r["bytes"]
            out.finals_ok += sum(1 for f in r["finals"] if f is not None and f >= target)
            out.closed.update(r["closed"])
        acks = sorted(a.done for a in accepted)
        dues = sorted(a.due for a in accepted)
        for r in reports:
            for seen in r["seen"]:
                drops = regressions(seen)
                out.backwards += len(drops)
                out.backwards_subscribers += bool(drops)
                out.backwards_max = max([out.backwards_max, *drops])
                lat, due, missing = latencies(seen, system.baseline, acks, dues, ended)
                out.latencies += lat
                out.from_due += due
                out.censored += missing
    finally:
        workers.close()
    return out


def regressions(seen: list[tuple[float, int]]) -> list[int]:
    """How far below the highest count seen so far each frame's count was, for frames that went back."""
    top, drops = -1, []
    for _, n in sorted(seen):
        if n < top:
            drops.append(top - n)
        top = max(top, n)
    return drops


def latencies(seen: list[tuple[float, int]], baseline: int, acks: list[float], dues: list[float],
              ended: float) -> tuple[list[float], list[float], int]:
    """For one subscriber: per check-in k, the first time its count reached baseline + k, less the k-th
    acknowledgement (and less the k-th due time). Never reached: censored at `ended`."""
    firsts: list[float] = []
    top = baseline
    for at, n in sorted(seen):
        while n > top and len(firsts) < len(acks):
            top += 1
            firsts.append(at)
    missing = len(acks) - len(firsts)
    firsts += [ended] * missing
    return ([(t - a) * 1000 for t, a in zip(firsts, acks, strict=True)],
            [(t - d) * 1000 for t, d in zip(firsts, dues, strict=True)], missing)


# -- the two systems ----------------------------------------------------------------------------------
def _hub_command(redis_url: str, hub_id: str, profile: Path | None, command: str | None = None) -> str:
    python = shlex.quote(sys.executable)
    env = f"env REDIS_URL={shlex.quote(redis_url)} HOINGHI_HUB_ID={hub_id}"
    if command:
        return f"{env} {command}"
    if profile is not None:
        helper = shlex.quote(str(Path(__file__).resolve().parent / "cpu_profile.py"))
        return f"{env} {python} {helper} {shlex.quote(str(profile))} web.cli"
    return f"{env} {python} -m web.cli"


async def _warm_hoinghi(target: Target, topic: str) -> int:
    """One subscriber in and out (the hub loads the session), and the count it saw."""
    from websockets.asyncio.client import connect

    tickets = Tickets()
    ticket = await tickets.get(target)
    await tickets.aclose()
    async with connect(f"ws://{target.host}:{target.port}/ws", ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "hello", "v": 1, "ticket": ticket}))
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "snapshot":
                return int(message["data"]["totals"]["in_person"])
            if message["type"] == "error":
                raise SystemExit(f"fanout bench: subscribe refused: {message}")


async def _warm_sio(target: Target, room: str) -> int:
    from websockets.asyncio.client import connect

    async with connect(f"ws://{target.host}:{target.port}/socket.io/?EIO=4&transport=websocket",
                       ping_interval=None) as ws:
        await ws.recv()
        await ws.send("40")
        await ws.recv()
        await ws.send("42" + json.dumps(["join", room]))
        while True:
            data = str(await ws.recv())
            if data.startswith('42["count"'):
                return int(json.loads(data[2:])[1]["in_person"])


async def _post(target: Target, request: bytes) -> tuple[int, bytes]:
    conn = await _connect(target.host, target.port)
    try:
        return await conn.request(request)
    finally:
        if conn.transport is not None:
            conn.transport.close()


def _checkin_outcome(body: bytes) -> str:
    return str(json.loads(body).get("outcome", "?"))


def run_hoinghi(args: argparse.Namespace, workdir: Path, db_url: str, redis_url: str, storm_size: int,
                settings: Any, prepared: Prepared) -> tuple[Outcome, list[Server]]:
    servers: list[Server] = []
    for i in range(args.hubs):
        hub_dir = workdir / f"hub{i}"
        hub_dir.mkdir()
        profile = Path(args.profile).resolve() / f"hub{i}.prof" if args.profile else None
        servers.append(Server(settings, free_port(), hub_dir, None,
                              _hub_command(redis_url, f"h{i}", profile, args.hub_command)))
    targets = [Target(HOST, s.port) for s in servers]
    topic = f"session:{prepared.session_id}/unit:{prepared.unit_id}"
    token = prepared.kiosk_token.encode()
    tag = secrets.token_hex(3)

    def make(index: int, target: Target) -> bytes:
        item = Item("fresh", 0, prepared.texts[index + 1], f"fanout-{tag}-{index:06d}")
        return _request(f"{target.host}:{target.port}".encode(), token, prepared.session_id, item)

    # warm-up, not measured: every hub loads the session; one check-in goes through the API
    for t in targets:
        asyncio.run(_warm_hoinghi(t, topic))
    warm = _request(f"{HOST}:{targets[0].port}".encode(), token, prepared.session_id,
                    Item("fresh", 0, prepared.texts[0], f"fanout-{tag}-warm"))
    status, body = asyncio.run(_post(targets[0], warm))
    if status != 200 or _checkin_outcome(body) != "accepted":
        raise SystemExit(f"fanout bench: the warm-up check-in answered {status} {body[:200]!r}")
    time.sleep(1.0)
    baselines = [asyncio.run(_warm_hoinghi(t, topic)) for t in targets]
    if len(set(baselines)) != 1:
        raise SystemExit(f"fanout bench: the hubs disagree before the storm: {baselines}")
    time.sleep(0.5)
    system = System("hoinghi", "hoinghi", targets, [s.proc.pid for s in servers], topic, make, _checkin_outcome,
                    baselines[0])
    return measure(system, args, storm_size), servers


def run_socketio(args: argparse.Namespace, workdir: Path, redis_url: str, storm_size: int, settings: Any,
                 room: str) -> tuple[Outcome, list[Server]]:
    servers: list[Server] = []
    app = shlex.quote(str(Path(__file__).resolve().parent / "sio_app.py"))
    tag = secrets.token_hex(4)
    extra = f" --redis {shlex.quote(redis_url)} --channel fanout-{tag} --counter fanout-{tag}:n" \
        if args.hubs > 1 else ""
    for i in range(args.hubs):
        sio_dir = workdir / f"socketio{i}"
        sio_dir.mkdir()
        servers.append(Server(settings, free_port(), sio_dir, None,
                              f"{shlex.quote(sys.executable)} {app} --room {shlex.quote(room)}{extra}"))
    targets = [Target(HOST, s.port) for s in servers]

    def make(index: int, target: Target) -> bytes:
        return (b"POST /checkin HTTP/1.1\r\nHost: " + f"{target.host}:{target.port}".encode()
                + b"\r\nContent-Length: 0\r\n\r\n")

    for t in targets:
        asyncio.run(_warm_sio(t, room))
    status, body = asyncio.run(_post(targets[0], make(0, targets[0])))
    if status != 200:
        raise SystemExit(f"fanout bench: the socket.io warm-up check-in answered {status} {body[:200]!r}")
    time.sleep(1.0)
    baselines = [asyncio.run(_warm_sio(t, room)) for t in targets]
    time.sleep(0.5)
    system = System("socket.io", "socketio", targets, [s.proc.pid for s in servers], room, make, _checkin_outcome,
                    baselines[0])
    return measure(system, args, storm_size), servers


# -- the report ---------------------------------------------------------------------------------------
def _ms(values: list[float]) -> str:
    s = sorted(values)
    return " / ".join(f"{percentile(s, q):,.0f}" for q in (50, 90, 99, 100)) if s else "–"


def report(args: argparse.Namespace, db_kind: str, prep_s: float, ours: Outcome, peer: Outcome | None) -> None:
    systems = [o for o in (ours, peer) if o is not None]
    rows: list[tuple[str, list[str]]] = [
        ("subscribers connected", [f"{o.clients:,} of {args.clients:,}" for o in systems]),
        ("connect failures", [", ".join(f"{k} ×{v}" for k, v in o.connect_failed.items()) or "0" for o in systems]),
        ("connect s (subscribers/s)", [f"{o.connect_s:.1f} ({o.clients / o.connect_s if o.connect_s else 0:,.0f})"
                                       for o in systems]),
        ("server CPU s while connecting", [f"{o.cpu_connect:.1f}" for o in systems]),
        ("server RSS MiB before / after / peak", [f"{o.rss_before_kib / 1024:.0f} / {o.rss_after_kib / 1024:.0f} / "
                                                  f"{o.rss_peak_kib / 1024:.0f}" for o in systems]),
        ("KiB per connection", [f"{o.kib_per_conn:.1f}" for o in systems]),
        ("check-ins offered / accepted", [f"{o.offered:,} / {o.accepted:,}" for o in systems]),
        *[(f"  not accepted: {k}", [str(o.not_accepted.get(k, 0)) for o in systems])
          for k in sorted({k for o in systems for k in o.not_accepted})],
        ("storm s (offered over)", [f"{o.storm_s:.1f} ({args.duration:g})" for o in systems]),
        ("ack ms from due p50 / p90 / p99 / max", [_ms(o.ack_ms) for o in systems]),
        ("delivery ms from ack p50 / p90 / p99 / max", [_ms(o.latencies) for o in systems]),
        ("delivery ms from due p50 / p90 / p99 / max", [_ms(o.from_due) for o in systems]),
        ("samples (subscribers × check-ins)", [f"{len(o.latencies):,}" for o in systems]),
        ("censored samples (not delivered in time)", [f"{o.censored:,}" for o in systems]),
        ("drain s (last ack → all sampled have it)", [f"{o.drain_s:.1f}" for o in systems]),
        ("subscribers with the final count", [f"{o.finals_ok:,} of {o.clients:,}" for o in systems]),
        ("frames per subscriber (mean)", [f"{sum(o.frames) / len(o.frames) if o.frames else 0:,.1f}"
                                          for o in systems]),
        ("frame bytes (mean, uncompressed)", [f"{o.frame_bytes / sum(o.frames) if sum(o.frames) else 0:,.0f}"
                                              for o in systems]),
        ("sampled: frames whose count went back (subs, max)",
         [f"{o.backwards:,} ({o.backwards_subscribers:,}, {o.backwards_max:,})" for o in systems]),
        ("closed by the server (code ×n)", [", ".join(f"{k} ×{v}" for k, v in o.closed.items()) or "0"
                                            for o in systems]),
        ("server CPU s, storm + drain (window s)", [f"{o.cpu_storm:.1f} ({o.window_s:.1f})" for o in systems]),
        ("client CPU s, storm + drain", [f"{o.client_cpu_storm:.1f}" for o in systems]),
        ("other processes' CPU s, same window", [f"{o.others_cpu:.1f}" for o in systems]),
        ("client processes' RSS MiB", [f"{o.client_rss_kib / 1024:.0f}" for o in systems]),
        ("load average after (1/5/15 min)", [" ".join(f"{x:.1f}" for x in o.load) for o in systems]),
        ("stopped early", [o.aborted or "no" for o in systems]),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    print(f"fan-out: {args.clients:,} subscribers, {args.hubs} hub(s), {db_kind}, storm {args.rate:g}/s × "
          f"{args.duration:g} s, {args.procs} client processes, compression {args.compression}, "
          f"{os.cpu_count()} cores; preparation {prep_s:.1f} s")
    print(f"{'':<{width}}  " + "  ".join(f"{o.name:<24}" for o in systems))
    for name, values in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{v:<24}" for v in values))
    for o in systems:
        for note in o.notes:
            print(f"note ({o.name}): {note}")
        if o.censored:
            share = o.censored / len(o.latencies) * 100 if o.latencies else 0.0
            print(f"note ({o.name}): {o.censored:,} of {len(o.latencies):,} samples ({share:.1f}%) had not arrived "
                  f"{args.drain:g} s after the last acknowledgement and count as arriving then: percentiles above "
                  f"p{100 - share:.1f} are lower bounds" + (" (p99 too)" if share > 1 else " (p99 is exact)"))
    p99 = ours.p(99)
    ratio = p99 / peer.p(99) if peer is not None and peer.latencies and peer.p(99) > 0 else float("nan")
    print(f"clients={ours.clients} hubs={args.hubs} p50_ms={ours.p(50):.2f} p99_ms={p99:.2f} "
          f"kib_per_conn={ours.kib_per_conn:.2f} vs_socketio_p99={ratio:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10_000, help="WebSocket subscribers to hold")
    parser.add_argument("--hubs", type=int, default=1, help="hub processes (2 or more: PostgreSQL and Redis)")
    parser.add_argument("--database", help=f"database URL (default: SQLite for one hub, {POSTGRES} for more)")
    parser.add_argument("--members", type=int, default=20_000, help="members in the demo province")
    parser.add_argument("--rate", type=float, default=300, help="check-ins per second during the storm")
    parser.add_argument("--duration", type=float, default=10, help="seconds of storm")
    parser.add_argument("--sample", type=int, default=300, help="subscribers that record every frame")
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--connect-concurrency", type=int, default=32, help="handshakes in flight per client process")
    parser.add_argument("--http-conns", type=int, default=32, help="keep-alive HTTP connections per hub for the storm "
                                                                   "(kiosks), each with one request in flight")
    parser.add_argument("--overrun", type=float, default=15, help="check-ins not sent within this many seconds after "
                                                                  "the storm's scheduled end are dropped (reported)")
    parser.add_argument("--drain", type=float, default=30, help="seconds after the last acknowledgement to wait "
                                                                "for delivery before censoring")
    parser.add_argument("--settle", type=float, default=1, help="seconds between connecting and measuring RSS")
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate",
                        help="whether subscribers offer permessage-deflate (browsers do)")
    parser.add_argument("--rss-cap-mib", type=int, default=6000, help="stop the storm when a server grows past this")
    parser.add_argument("--skip-socketio", action="store_true", help="measure only our hubs")
    parser.add_argument("--profile", metavar="DIR", help="profile the hubs (cProfile, CPU time) to DIR/hubN.prof")
    parser.add_argument("--hub-command", metavar="CMD", help="run each hub as CMD serve --host … --port … instead of "
                                                              "python -m web.cli (e.g. an experimental build)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (and PG database)")
    args = parser.parse_args()
    if args.clients < 1 or args.hubs < 1 or args.rate <= 0 or args.duration <= 0:
        parser.error("need --clients ≥ 1, --hubs ≥ 1, --rate > 0 and --duration > 0")
    storm_size = max(1, round(args.rate * args.duration))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    if args.clients // args.hubs + 200 > hard:
        parser.error(f"{args.clients // args.hubs} connections per hub need more than the {hard} open files allowed")
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)

    from web.settings import load

    workdir = Path(tempfile.mkdtemp(prefix="hoinghi-fanout-bench-"))
    db = create_database(args.database or (POSTGRES if args.hubs > 1 else None), workdir)
    if args.hubs > 1 and db.kind == "sqlite":
        parser.error("several hubs need PostgreSQL (--database postgresql://…)")
    redis = Redis() if args.hubs > 1 else None
    servers: list[Server] = []
    try:
        settings = load({}, None, database_url=db.url, secret_key=secrets.token_urlsafe(32),
                        data_key=secrets.token_urlsafe(32), data_dir=workdir / "data",
                        password_time_cost=1, password_memory_kib=8192)
        print(f"fanout bench: load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on "
              f"{os.cpu_count()} cores; preparing {db.kind} ({args.members:,} members) …", file=sys.stderr, flush=True)
        began = time.perf_counter()
        prepared = asyncio.run(prepare(settings, args.members, storm_size + 1, args.seed))
        prep_s = time.perf_counter() - began
        redis_url = redis.url if redis else ""
        ours, started = run_hoinghi(args, workdir, db.url, redis_url, storm_size, settings, prepared)
        servers += started
        for server in started:
            server.stop()
        logs = [server.log_path.read_text(errors="replace") for server in started]
        unusual = [line for text in logs for line in text.splitlines()
                   if line.strip() and not line.startswith(("INFO:", "  "))]
        if unusual:
            ours.notes.append(f"{len(unusual)} log lines other than INFO in the hub logs, the first: "
                              + "\n".join(unusual[:10]))
        errors = sum(text.count("Traceback") for text in logs)
        if errors:
            first = next(text for text in logs if "Traceback" in text)
            ours.notes.append(f"{errors} tracebacks in the hub logs (kept with --keep), the first:\n"
                              + first[first.index("Traceback"):][:2000])
        peer = None
        if not args.skip_socketio:
            peer, started = run_socketio(args, workdir, redis_url, storm_size, settings,
                                         f"session:{prepared.session_id}/unit:{prepared.unit_id}")
            servers += started
            for server in started:
                server.proc.kill()  # a backlog of emits would only delay a graceful stop
                server.stop()
        report(args, db.kind, prep_s, ours, peer)
    finally:
        for server in servers:
            if server.proc.poll() is None:
                server.proc.kill()
                server.stop()
        if redis is not None:
            redis.stop()
        if args.keep:
            print(f"fanout bench: kept {workdir}" + (f" and database {db.name}" if db.name else ""), file=sys.stderr)
        else:
            drop_database(db)
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
