"""The fan-out bench's measurement of one system under test: the check-in storm through its HTTP API,
the subscribers connected before it, and the latencies from each acknowledgement (or due time) to the
first frame that counts it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout_clients import Target, Workers, WorkerSpec
from harness import cpu_seconds, machine_busy, percentile, rss_kib
from kiosk_load import _connect, _Connection


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

