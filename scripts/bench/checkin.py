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

Closed loop (no --rate) measures the most the server can do: every kiosk sends its next scan as soon
as the previous one is answered. With --rate the kiosks together offer that many scans per second,
and a scan's latency runs from when it was due. Preparation is timed but not part of the measurement.
Without --database a new SQLite file in a temporary directory is used; with a PostgreSQL URL a new
database is created on that server and dropped at the end. The last line is machine-readable:

    checkins=<n> per_s=<float> p50_ms=<float> p99_ms=<float> lost=<n> duplicates=<n>
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from attendance import tables as at
from attendance.credentials import LAYOUT, PREFIX
from conference.accounts import User
from conference.conferences import Session
from web.bootstrap import Services, build
from web.db import create_engine
from web.demo import province as demo_data
from web.demo import seeding
from web.demo.accounts import DemoAccounts
from web.settings import Settings, load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kiosk_load import Item, Kiosk, LoadResult, run

HOST = "127.0.0.1"
MEMBERS = 70_000


# -- the database -------------------------------------------------------------------------------------
@dataclass
class Database:
    url: str
    kind: str  # sqlite or postgresql
    admin_url: str | None = None
    name: str | None = None


async def _pg(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(make_url(admin_url).set(drivername="postgresql").render_as_string(False))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(url: str | None, workdir: Path) -> Database:
    if url is None:
        return Database(f"sqlite:///{workdir / 'bench.db'}", "sqlite")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Database(url, "sqlite")
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise SystemExit(f"checkin bench: unsupported database URL {url!r}")
    name = f"hoinghi_bench_{secrets.token_hex(4)}"
    asyncio.run(_pg(url, f'CREATE DATABASE "{name}"'))
    return Database(parsed.set(database=name).render_as_string(hide_password=False), "postgresql", url, name)


def drop_database(db: Database) -> None:
    if db.admin_url and db.name:
        asyncio.run(_pg(db.admin_url, f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'))


# -- preparation --------------------------------------------------------------------------------------
@dataclass
class Plan:
    session_id: int
    halls: int
    kiosks: list[Kiosk]
    warmup: list[Kiosk]
    timings: dict[str, float] = field(default_factory=dict)
    fresh: int = 0
    repeats: int = 0
    forged: int = 0
    notes: list[str] = field(default_factory=list)


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights`, in whole numbers that add up to `total`."""
    whole = sum(weights)
    if total <= 0 or whole <= 0:
        return [0] * len(weights)
    exact = [total * w / whole for w in weights]
    out = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - out[i], reverse=True)
    for i in order[:total - sum(out)]:
        out[i] += 1
    return out


def forge(text: str, rng: random.Random) -> str:
    """A valid-looking credential text whose signature no longer matches: flipped signature bytes."""
    body = text[len(PREFIX):]
    blob = bytearray(base64.b32decode(body + "=" * (-len(body) % 8)))
    for _ in range(3):
        blob[LAYOUT.size + rng.randrange(64)] ^= 0xFF
    return PREFIX + base64.b32encode(bytes(blob)).decode("ascii").rstrip("=")


async def seed_demo(svc: Services, members: int, title: str) -> tuple[User, DemoAccounts, Session]:
    """The demo province written into an empty database, and a session of its conference whose check-in
    is open now (it starts in 20 minutes): the administrator, the demo accounts, the session."""
    conference = svc.conference
    now = datetime.now(UTC)
    accounts = await seeding.seed(svc.engine, conference.passwords, now, members=members)
    conference.forget_units()
    found = await conference.store.user_with_hash(demo_data.ADMIN_USERNAME)
    assert found is not None
    session = await conference.add_session(found[0], accounts.conference_id, title, now + timedelta(minutes=20),
                                           now + timedelta(hours=4))
    return found[0], accounts, session


async def prepare(settings: Settings, args: argparse.Namespace, rng: random.Random) -> Plan:
    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[name] = now - mark
        mark = now

    async with build(settings) as svc:  # migrates the new database (auto_migrate)
        lap("migrate")
        conference = svc.conference
        admin, accounts, session = await seed_demo(svc, args.members, "Phiên đo hiệu năng điểm danh")
        lap("seed province")
        conf_id = accounts.conference_id

        invited: dict[int, list[int]] = defaultdict(list)
        for inv in await conference.store.invitations_of(conf_id):
            invited[inv.hall_id].append(inv.person_id)
        everyone = sorted(p for people in invited.values() for p in people)
        live = await svc.credentials.current(everyone)
        lap("credentials")

        # kiosks: one per hall (while there are enough), the rest in proportion to the invitees
        halls = sorted((h for h in await conference.store.halls_of(conf_id) if invited.get(h.id)),
                       key=lambda h: (-len(invited[h.id]), h.id))
        sizes = [len(invited[h.id]) for h in halls]
        if args.kiosks >= len(halls):
            per_hall = [1 + n for n in _largest_remainder(args.kiosks - len(halls), [float(s) for s in sizes])]
        else:
            per_hall = [1] * args.kiosks + [0] * (len(halls) - args.kiosks)
        kiosks: list[Kiosk] = []
        hall_kiosks: dict[int, list[Kiosk]] = {}
        for hall, count in zip(halls, per_hall, strict=True):
            hall_kiosks[hall.id] = []
            for _ in range(count):
                code, _ = await svc.devices.issue_enrolment_code(hall.id, admin.id)
                _, token = await svc.devices.enrol(code, f"Kiosk {len(kiosks) + 1} · {hall.name}")
                kiosk = Kiosk(len(kiosks), hall.id, token, [])
                kiosks.append(kiosk)
                hall_kiosks[hall.id].append(kiosk)
        lap("enrol kiosks")

        # the scans: fresh people of each covered hall in proportion to its size, split over its kiosks
        covered = [h for h in halls if hall_kiosks[h.id]]
        pools = {h.id: rng.sample(invited[h.id], len(invited[h.id])) for h in covered}
        warm_hall = covered[0].id
        warm_person = pools[warm_hall].pop()  # checked in during the warm-up, not measured
        repeats = round(args.checkins * args.repeats)
        forged = round(args.checkins * args.forged)
        fresh = args.checkins - repeats - forged
        available = sum(len(p) for p in pools.values())
        notes = []
        if fresh > available:
            notes.append(f"only {available} people at the kiosks' halls: {fresh - available} more repeats")
            repeats += fresh - available
            fresh = available
        quotas = _largest_remainder(fresh, [float(len(pools[h.id])) for h in covered])
        fresh_of: dict[int, list[int]] = defaultdict(list)
        for hall, quota in zip(covered, quotas, strict=True):
            for n, person in enumerate(pools[hall.id][:quota]):
                ks = hall_kiosks[hall.id]
                fresh_of[ks[n % len(ks)].index].append(person)
        weights = [float(len(fresh_of[k.index])) for k in kiosks]
        rep_of = _largest_remainder(repeats, weights)
        forged_of = _largest_remainder(forged, weights)

        texts: dict[int, str] = {}

        async def text(person: int) -> str:
            if person not in texts:
                texts[person] = await svc.credentials.text(live[person])
            return texts[person]

        tag = secrets.token_hex(3)
        for kiosk in kiosks:
            people = fresh_of[kiosk.index]
            if not people:
                continue
            m = len(people)
            keyed: list[tuple[float, str, int]] = [(float(i), "fresh", p) for i, p in enumerate(people)]
            for _ in range(rep_of[kiosk.index]):
                i = rng.randrange(m)
                keyed.append((rng.uniform(i + 0.01, m), "repeat", people[i]))
            for _ in range(forged_of[kiosk.index]):
                keyed.append((rng.uniform(0, m), "forged", rng.choice(invited[kiosk.hall_id])))
            keyed.sort(key=lambda x: x[0])
            for seq, (_, kind, person) in enumerate(keyed):
                credential = await text(person)
                if kind == "forged":
                    credential = forge(credential, rng)
                kiosk.items.append(Item(kind, person, credential, f"bench-{tag}-{kiosk.index:04d}-{seq:06d}"))

        # warm-up (not measured): one forged scan per kiosk, and one real check-in
        warmup = [Kiosk(k.index, k.hall_id, k.token, [Item("forged", 0, forge(await text(
            rng.choice(invited[k.hall_id])), rng), f"warm-{tag}-{k.index:04d}")]) for k in kiosks]
        first = hall_kiosks[warm_hall][0]
        warmup.append(Kiosk(first.index, warm_hall, first.token,
                            [Item("fresh", warm_person, await text(warm_person), f"warm-{tag}-fresh")]))
        lap("scan plan (QR texts)")
    timings["prepare total"] = sum(timings.values())
    return Plan(session.id, len(halls), kiosks, warmup, timings, fresh, repeats, forged, notes)


# -- the server ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> tuple[float, dict[str, float]]:
    """The process's user+system CPU seconds, and per thread (by name)."""
    tick = os.sysconf("SC_CLK_TCK")

    def read(path: str) -> tuple[str, float]:
        with open(path) as f:
            raw = f.read()
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        return name, (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    _, total = read(f"/proc/{pid}/stat")
    threads: dict[str, float] = defaultdict(float)
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with_name = read(f"/proc/{pid}/task/{tid}/stat")
            threads["main" if int(tid) == pid else with_name[0]] += with_name[1]
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return total, dict(threads)


def machine_busy() -> float:
    """CPU seconds all processes on the machine have used (every core), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds used so far by the machine's PostgreSQL processes (0 when there are none)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        if raw[raw.index("(") + 1:raw.rindex(")")] in ("postgres", "postmaster"):
            fields = raw[raw.rindex(")") + 2:].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Server:
    def __init__(self, settings: Settings, port: int, workdir: Path, profile: str | None,
                 command: str | None = None) -> None:
        self.port = port
        self.log_path = workdir / "server.log"
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update({"DATABASE_URL": settings.database_url, "HOINGHI_SECRET_KEY": settings.secret_key,
                    "HOINGHI_DATA_KEY": settings.data_key, "HOINGHI_DATA_DIR": str(workdir / "data"),
                    "HOINGHI_AUTO_MIGRATE": "true", "PYTHONUNBUFFERED": "1"})
        hoinghi = shutil.which("hoinghi", path=str(Path(sys.executable).parent))
        args = ["serve", "--host", HOST, "--port", str(port)]
        if command:
            cmd = [*shlex.split(command), *args]
        elif profile:
            cmd = [sys.executable, "-m", "cProfile", "-o", profile, "-m", "web.cli", *args]
        elif hoinghi:
            cmd = [hoinghi, *args]
        else:
            cmd = [sys.executable, "-m", "web.cli", *args]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"checkin bench: the server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with socket.create_connection((HOST, port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit(f"checkin bench: the server did not start:\n{self.tail()}") from None
                time.sleep(0.1)
        self.start_seconds = time.perf_counter() - started

    def tail(self, lines: int = 30) -> str:
        if not self.log.closed:
            self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def cpu(self) -> tuple[float, dict[str, float]]:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # graceful: the ledger finishes what is queued
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


# -- checking the store -------------------------------------------------------------------------------
@dataclass
class StoreCheck:
    checkin_rows: int
    lost: int
    duplicates: int
    events: int
    events_missing: int


async def check_store(url: str, session_id: int, accepted: set[int], nonces: set[str]) -> StoreCheck:
    engine = create_engine(url)
    try:
        async with engine.connect() as c:
            rows = (await c.execute(select(at.checkins.c.person_id, at.checkins.c.status)
                                    .where(at.checkins.c.session_id == session_id))).all()
            twice_rows = {r.person_id for r in await c.execute(
                select(at.checkins.c.person_id).where(at.checkins.c.session_id == session_id)
                .group_by(at.checkins.c.person_id).having(func.count() > 1))}
            twice_events = {r.person_id for r in await c.execute(
                select(at.scan_events.c.person_id).where(at.scan_events.c.session_id == session_id,
                                                         at.scan_events.c.outcome == "accepted")
                .group_by(at.scan_events.c.person_id).having(func.count() > 1))}
            recorded = {r.nonce for r in await c.execute(
                select(at.scan_events.c.nonce).where(at.scan_events.c.session_id == session_id))}
    finally:
        await engine.dispose()
    present = {r.person_id for r in rows if r.status.startswith("present")}
    return StoreCheck(len(rows), len(accepted - present), len(twice_rows | twice_events), len(recorded),
                      len(nonces - recorded))


# -- the report ---------------------------------------------------------------------------------------
def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))]


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
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (and PG database)")
    args = parser.parse_args()
    if args.checkins < 1 or args.kiosks < 1 or not 0 <= args.repeats + args.forged < 1:
        parser.error("need --checkins ≥ 1, --kiosks ≥ 1 and --repeats + --forged < 1")

    workdir = Path(tempfile.mkdtemp(prefix="hoinghi-checkin-bench-"))
    db = create_database(args.database, workdir)
    server: Server | None = None
    try:
        settings = load({}, None, database_url=db.url, secret_key=secrets.token_urlsafe(32),
                        data_key=secrets.token_urlsafe(32), data_dir=workdir / "data")
        print(f"checkin bench: preparing {db.kind} ({args.members:,} members, {args.kiosks} kiosks) …",
              file=sys.stderr, flush=True)
        rng = random.Random(args.seed)
        plan = asyncio.run(prepare(settings, args, rng))
        for note in plan.notes:
            print(f"checkin bench: note: {note}", file=sys.stderr)

        server = Server(settings, args.port or free_port(), workdir, args.profile, args.server_command)
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
        cpu0, threads0 = server.cpu()
        busy0, pg0 = machine_busy(), postgres_cpu()
        result = run(plan.kiosks, HOST, server.port, plan.session_id, args.rate, args.seed)
        cpu1, threads1 = server.cpu()
        pg = postgres_cpu() - pg0  # backends that ended during the run are not counted: a lower bound
        others = machine_busy() - busy0 - (cpu1 - cpu0) - result.client_cpu - pg
        code = server.stop()
        log_tail = server.tail(15)
        errors_in_log = log_tail.count("Traceback")

        accepted = {a.item.person_id for a in warm.answers if a.outcome == "accepted"}
        accepted |= {a.item.person_id for a in result.answers if a.outcome == "accepted"}
        nonces = {a.item.nonce for a in warm.answers + result.answers if a.status == 200}
        check = asyncio.run(check_store(db.url, plan.session_id, accepted, nonces))
        report(args, db, plan, server, result, cpu1 - cpu0,
               {k: threads1.get(k, 0.0) - threads0.get(k, 0.0) for k in threads1}, check, code, errors_in_log,
               max(0.0, others), pg)
        if errors_in_log:
            print(log_tail, file=sys.stderr)
    finally:
        if server is not None and server.proc.poll() is None:
            server.stop()
        if args.keep:
            print(f"checkin bench: kept {workdir}" + (f" and database {db.name}" if db.name else ""), file=sys.stderr)
        else:
            drop_database(db)
            shutil.rmtree(workdir, ignore_errors=True)


def report(args: argparse.Namespace, db: Database, plan: Plan, server: Server, result: LoadResult, cpu: float,
           threads: dict[str, float], check: StoreCheck, exit_code: int, log_errors: int, others: float,
           pg: float) -> None:
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
    rows += [
        ("server CPU s (utilisation)", f"{cpu:.1f} ({cpu / elapsed * 100 if elapsed else 0:.0f}% of one core)"),
        ("  main thread / other threads s", f"{main_thread:.1f} / {cpu - main_thread:.1f}"),
        ("server CPU ms per check-in", f"{cpu * 1000 / len(ok) if ok else 0:.3f}"),
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
          f"lost={check.lost} duplicates={check.duplicates}")


if __name__ == "__main__":
    main()
