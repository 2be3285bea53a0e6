"""Benchmark: QR check-ins through one server process, from simulated kiosks over real HTTP.

Prepares a fresh database (migrations, the 70,000-member demo province, a session whose check-in is
open now, a credential for everyone, `--kiosks` enrolled kiosk devices spread over the halls in
proportion to their invitees), starts ONE `hoinghi serve` process, and drives it from the kiosks:
each kiosk scans the QR texts of people invited to its own hall, one after the other, each scan with
a unique nonce; a fraction of the scans are repeats of people already checked in, a fraction forged
(a real credential's text with flipped signature bytes). Then it stops the server and checks the
store: every acknowledged check-in must be there (`lost`), and nobody checked in twice (`duplicates`).

    uv run python scripts/bench/checkin.py --checkins 70000 --kiosks 200            # closed loop
    uv run python scripts/bench/checkin.py --checkins 70000 --kiosks 200 --rate 2000
    uv run python scripts/bench/checkin.py --database postgresql://postgres@127.0.0.1:5432/postgres
    uv run python scripts/bench/checkin.py --checkins 2000 --kiosks 20               # smoke
    uv run python scripts/bench/checkin.py --database postgresql://postgres@127.0.0.1:5432/postgres --workers 2

Closed loop (no --rate) measures the most the server can do: every kiosk sends its next scan as soon
as the previous one is answered. With --rate the kiosks together offer that many scans per second,
and a scan's latency runs from when it was due. Preparation is timed but not part of the measurement.
Without --database a new SQLite file in a temporary directory is used; with a PostgreSQL URL a new
database is created on that server and dropped at the end. `--workers N` serves with `hoinghi serve
--workers N` (PostgreSQL only), the workers sharing a Redis bus: `--redis URL`, or a redis-server of the
benchmark's own. The last line is machine-readable; `server_cpu_us` is the server's CPU time (user+system,
from /proc, its worker processes included) during the measured scans, per answered scan:

    checkins=<n> per_s=<float> p50_ms=<float> p99_ms=<float> lost=<n> duplicates=<n> server_cpu_us=<float>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from web.settings import load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout_systems import Redis
from harness import (
    HOST,
    Database,
    Server,
    StoreCheck,
    check_store,
    create_database,
    drop_database,
    free_port,
    machine_busy,
    percentile,
    postgres_cpu,
)
from kiosk_load import LoadResult, run
from scan_plan import Plan, prepare

MEMBERS = 70_000


EXPECTED = {"fresh": "accepted", "repeat": "repeat", "forged": "refused"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkins", type=int, default=70_000, help="scans to send (measured)")
    parser.add_argument("--kiosks", type=int, default=200, help="kiosk devices, each one keep-alive connection")
    parser.add_argument("--database", help="database URL (default: a new SQLite file in a temporary directory; "
                                           "a PostgreSQL URL names the server, where a new database is made)")
    parser.add_argument("--rate", type=float, help="offered scans per second (default: closed loop, flat out)")
    parser.add_argument("--repeats", type=float, default=0.10, help="share of scans that repeat a person")
    parser.add_argument("--forged", type=float, default=0.01, help="share of scans with a forged signature")
    parser.add_argument("--port", type=int, help="the server's port (default: a free one)")
    parser.add_argument("--members", type=int, default=MEMBERS, help="members in the demo province")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the scan plan")
    parser.add_argument("--pin-client", type=int, metavar="CPU", help="pin the load generator to this CPU")
    parser.add_argument("--profile", metavar="FILE", help="run the server under cProfile, stats to FILE")
    parser.add_argument("--server-command", metavar="CMD",
                        help="run the server as CMD serve … instead of hoinghi serve (e.g. under a profiler)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (hoinghi serve --workers N)")
    parser.add_argument("--redis", metavar="URL", help="the bus of several workers (default: a redis-server of "
                                                       "the benchmark's own)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (and PG database)")
    args = parser.parse_args()
    if args.checkins < 1 or args.kiosks < 1 or not 0 <= args.repeats + args.forged < 1:
        parser.error("need --checkins ≥ 1, --kiosks ≥ 1 and --repeats + --forged < 1")
    if args.workers < 1 or (args.workers > 1 and not (args.database or "").startswith("postgres")):
        parser.error("--workers N > 1 needs --database postgresql://… (several processes share one store)")

    workdir = Path(tempfile.mkdtemp(prefix="hoinghi-checkin-bench-"))
    db = create_database(args.database, workdir)
    server: Server | None = None
    redis = Redis() if args.workers > 1 and not args.redis else None
    try:
        redis_url = args.redis or (redis.url if redis else "")
        settings = load({}, None, database_url=db.url, secret_key=secrets.token_urlsafe(32),
                        data_key=secrets.token_urlsafe(32), data_dir=workdir / "data", redis_url=redis_url)
        print(f"checkin bench: preparing {db.kind} ({args.members:,} members, {args.kiosks} kiosks) …",
              file=sys.stderr, flush=True)
        rng = random.Random(args.seed)
        plan = asyncio.run(prepare(settings, args, rng))
        for note in plan.notes:
            print(f"checkin bench: note: {note}", file=sys.stderr)

        server = Server(settings, args.port or free_port(), workdir, args.profile, args.server_command,
                        ["--workers", str(args.workers)] if args.workers > 1 else [])
        warm = run(plan.warmup, HOST, server.port, plan.session_id, None, args.seed)
        warm_bad = [a for a in warm.answers if a.outcome != EXPECTED[a.item.kind]]
        if warm_bad:
            server.stop()
            raise SystemExit(f"checkin bench: warm-up answered {warm_bad[0]}\n{server.tail()}")
        if args.pin_client is not None:
            os.sched_setaffinity(0, {args.pin_client})
        mode = f"open loop at {args.rate:g}/s" if args.rate else "closed loop"
        print(f"checkin bench: server up in {server.start_seconds:.1f} s; {len(plan.kiosks)} kiosks, {mode} …",
              file=sys.stderr, flush=True)
        (_, threads0), tree0 = server.cpu(), server.tree_cpu()
        busy0, pg0 = machine_busy(), postgres_cpu()
        result = run(plan.kiosks, HOST, server.port, plan.session_id, args.rate, args.seed)
        (_, threads1), tree1 = server.cpu(), server.tree_cpu()
        verify_us = verify_cost()  # what this machine's cores give now, beside the run
        pg = postgres_cpu() - pg0  # backends that ended during the run are not counted: a lower bound
        others = machine_busy() - busy0 - (tree1 - tree0) - result.client_cpu - pg
        code = server.stop()
        log_tail = server.tail(15)
        errors_in_log = log_tail.count("Traceback")

        accepted = {a.item.person_id for a in warm.answers if a.outcome == "accepted"}
        accepted |= {a.item.person_id for a in result.answers if a.outcome == "accepted"}
        nonces = {a.item.nonce for a in warm.answers + result.answers if a.status == 200}
        check = asyncio.run(check_store(db.url, plan.session_id, accepted, nonces))
        report(args, db, plan, server, result, tree1 - tree0,
               {k: threads1.get(k, 0.0) - threads0.get(k, 0.0) for k in threads1}, check, code, errors_in_log,
               max(0.0, others), pg, verify_us)
        if errors_in_log:
            print(log_tail, file=sys.stderr)
    finally:
        if server is not None and server.proc.poll() is None:
            server.stop()
        if redis is not None:
            redis.stop()
        if args.keep:
            print(f"checkin bench: kept {workdir}" + (f" and database {db.name}" if db.name else ""), file=sys.stderr)
        else:
            drop_database(db)
            shutil.rmtree(workdir, ignore_errors=True)


def verify_cost(rounds: int = 3000) -> float:
    """CPU µs of one Ed25519 verification in this process, measured now: the floor of a check-in on this
    machine at this moment (a busy shared machine slows every process's CPU second, this one's too)."""
    key = Ed25519PrivateKey.generate()
    public, message = key.public_key(), b"hoinghi/credential/v1" + bytes(22)
    signature = key.sign(message)
    started = time.process_time()
    for _ in range(rounds):
        public.verify(signature, message)
    return (time.process_time() - started) * 1e6 / rounds


def report(args: argparse.Namespace, db: Database, plan: Plan, server: Server, result: LoadResult, cpu: float,
           threads: dict[str, float], check: StoreCheck, exit_code: int, log_errors: int, others: float,
           pg: float, verify_us: float) -> None:
    answers = result.answers
    ok = [a for a in answers if a.status == 200]
    elapsed = result.finished - result.started
    per_s = len(ok) / elapsed if elapsed > 0 else 0.0
    latencies = sorted(a.latency * 1000 for a in ok)
    service = sorted(a.service * 1000 for a in ok)
    outcomes = Counter(a.outcome for a in answers)
    refused = Counter(a.reason for a in answers if a.outcome == "refused")
    errors = Counter((a.status, (a.reason or "")[:60]) for a in answers if a.outcome == "error")
    unexpected = Counter(f"{a.item.kind}->{a.outcome}" for a in ok if a.outcome != EXPECTED[a.item.kind])
    wrong_person = sum(1 for a in ok if a.item.kind != "forged" and a.answered_person != a.item.person_id)
    acked = [a.item.person_id for a in ok if a.outcome == "accepted"]
    double_acks = len(acked) - len(set(acked))

    rows: list[tuple[str, str]] = []
    for name, seconds in plan.timings.items():
        rows.append((f"prepare: {name} s" if name != "prepare total" else "prepare s", f"{seconds:.1f}"))
    rows += [
        ("server start s", f"{server.start_seconds:.1f}"),
        ("database", db.kind),
        ("load", f"open loop, {args.rate:g}/s offered" if args.rate else "closed loop (flat out)"),
        ("kiosks / halls with kiosks", f"{len(plan.kiosks)} / {len({k.hall_id for k in plan.kiosks})} "
                                       f"(of {plan.halls})"),
        ("checkins offered", f"{len(answers):,} (fresh {plan.fresh:,}, repeats {plan.repeats:,}, "
                             f"forged {plan.forged:,})"),
        ("answered (HTTP 200)", f"{len(ok):,}"),
        ("accepted", f"{outcomes['accepted']:,}"),
        ("repeat", f"{outcomes['repeat']:,}"),
    ]
    rows += [(f"refused: {reason}", f"{n:,}") for reason, n in sorted(refused.items(), key=lambda x: str(x[0]))]
    if not refused:
        rows.append(("refused", "0"))
    rows += [(f"error: {status} {text}", f"{n:,}") for (status, text), n in errors.items()]
    rows += [(f"unexpected: {k}", f"{n:,}") for k, n in unexpected.items()]
    if wrong_person:
        rows.append(("answers naming the wrong person", f"{wrong_person:,}"))
    if double_acks:
        rows.append(("people acknowledged as accepted twice", f"{double_acks:,}"))
    rows += [
        ("elapsed s", f"{elapsed:.2f}"),
        ("throughput/s", f"{per_s:,.0f}"),
        ("latency p50 / p90 / p99 / max ms",
         " / ".join(f"{percentile(latencies, q):.1f}" for q in (50, 90, 99, 100))),
    ]
    if args.rate:
        rows.append(("  from actual send: p50 / p99 ms",
                     " / ".join(f"{percentile(service, q):.1f}" for q in (50, 99))))
    main_thread = threads.get("main", 0.0)
    cpu_us = cpu * 1e6 / len(ok) if ok else 0.0
    rows += [
        ("server processes", f"{args.workers}"),
        ("server CPU s (utilisation)", f"{cpu:.1f} ({cpu / elapsed * 100 if elapsed else 0:.0f}% of one core)"),
        *([("  main thread / other threads s", f"{main_thread:.1f} / {cpu - main_thread:.1f}")]
          if args.workers == 1 else []),
        ("server CPU µs per check-in", f"{cpu_us:.1f}"),
        ("  one Ed25519 verification now, µs (ratio)", f"{verify_us:.1f} ({cpu_us / verify_us:.2f}×)"),
        ("client CPU s", f"{result.client_cpu:.1f}"),
        *([("PostgreSQL CPU s", f"{pg:.1f} ({pg * 1000 / len(ok) if ok else 0:.3f} ms per check-in)")]
          if db.kind == "postgresql" else []),
        ("other processes' CPU s (machine)", f"{others:.1f} ({others / elapsed * 100 if elapsed else 0:.0f}% of one "
                                             f"core; {os.cpu_count()} cores)"),
        ("server exit code / tracebacks in log", f"{exit_code} / {log_errors}"),
        ("check-in rows in store", f"{check.checkin_rows:,}"),
        ("scan events in store (acked missing)", f"{check.events:,} ({check.events_missing})"),
        ("lost", f"{check.lost}"),
        ("duplicates", f"{check.duplicates}"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"checkins={len(ok)} per_s={per_s:.1f} p50_ms={p50:.2f} p99_ms={p99:.2f} "
          f"lost={check.lost} duplicates={check.duplicates} server_cpu_us={cpu_us:.1f}")


if __name__ == "__main__":
    main()
