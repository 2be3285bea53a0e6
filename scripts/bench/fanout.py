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
import os
import resource
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout_storm import Outcome
from fanout_systems import Redis, prepare, run_hoinghi, run_socketio
from harness import Server, create_database, drop_database, percentile

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"



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
