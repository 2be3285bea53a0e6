"""What the benchmarks and the rehearsal need around the server under test: a throwaway database (a SQLite
file, or a new database on a PostgreSQL server), a free port, one `hoinghi serve` process and its log,
CPU seconds read from /proc, percentiles, and the check of the store after a run (nothing acknowledged
lost, nobody checked in twice)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from attendance import tables as at
from web.db import create_engine
from web.settings import Settings

HOST = "127.0.0.1"


# -- the database -------------------------------------------------------------------------------------
@dataclass
class Database:
    url: str
    kind: str  # sqlite or postgresql
    admin_url: str | None = None
    name: str | None = None


async def pg_execute(admin_url: str, sql: str) -> None:
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
    asyncio.run(pg_execute(url, f'CREATE DATABASE "{name}"'))
    return Database(parsed.set(database=name).render_as_string(hide_password=False), "postgresql", url, name)


def drop_database(db: Database) -> None:
    if db.admin_url and db.name:
        asyncio.run(pg_execute(db.admin_url, f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'))


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


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of the process and of every live descendant (a server's worker processes)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    raw = f.read()
            except OSError:
                continue
            children[int(raw[raw.rindex(")") + 2:].split()[1])].append(int(entry))  # ppid
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current)[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        todo.extend(children.get(current, []))
    return total


def rss_kib(pid: int, key: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


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
                 command: str | None = None, extra: list[str] | None = None) -> None:
        self.port = port
        self.log_path = workdir / "server.log"
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update({"DATABASE_URL": settings.database_url, "HOINGHI_SECRET_KEY": settings.secret_key,
                    "HOINGHI_DATA_KEY": settings.data_key, "HOINGHI_DATA_DIR": str(workdir / "data"),
                    "HOINGHI_AUTO_MIGRATE": "true", "PYTHONUNBUFFERED": "1"})
        if settings.redis_url:
            env["REDIS_URL"] = settings.redis_url
        hoinghi = shutil.which("hoinghi", path=str(Path(sys.executable).parent))
        args = ["serve", "--host", HOST, "--port", str(port), *(extra or [])]
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

    def tree_cpu(self) -> float:
        """The server's CPU seconds, its worker processes' included."""
        return tree_cpu_seconds(self.proc.pid)

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

