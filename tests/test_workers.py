"""`hoinghi serve --workers N`: refused where state cannot be shared; on PostgreSQL and Redis, two real
worker processes behind one port answer check-ins, and nobody is checked in twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest

from attendance.checkins import Method
from tests.browser import free_port, wait_for_http
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.served import SECRET, ThrowawayRedis, prepare
from tests.test_cli import HOINGHI, hoinghi
from web.bootstrap import build
from web.settings import Settings, load


@pytest.mark.parametrize("env", [{}, {"REDIS_URL": "redis://127.0.0.1:6379/0"}])
def test_workers_are_refused_on_sqlite(env: dict[str, str], tmp_path: Path) -> None:
    result = hoinghi("serve", "--workers", "2", env={"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"} | env)
    assert result.returncode == 2
    assert result.stderr.startswith("hoinghi: --workers 2 needs") and "PostgreSQL" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


def test_workers_are_refused_without_a_shared_bus() -> None:
    result = hoinghi("serve", "--workers", "2", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/x"})
    assert result.returncode == 2 and "REDIS_URL" in result.stderr, result.stderr
    assert hoinghi("serve", "--workers", "0", env={"DATABASE_URL": "postgresql://p@127.0.0.1/x",
                                                   "REDIS_URL": "redis://127.0.0.1:1/0"}).returncode == 2


async def stored(settings: Settings, session_id: int) -> list[int]:
    async with build(settings) as svc:
        return [c.person_id for c in await svc.ledger.checkins(session_id) if c.method is Method.QR]


@pytest.mark.postgres
def test_two_workers_on_postgres_answer_check_ins_once_per_person(tmp_path: Path) -> None:
    url = asyncio.run(create_postgres_database())
    redis = ThrowawayRedis().start()
    process: subprocess.Popen[bytes] | None = None
    try:
        settings = load({}, None, database_url=url, secret_key=SECRET, redis_url=redis.url, password_time_cost=1,
                        password_memory_kib=8192)
        prepared = asyncio.run(prepare(settings, members=600))
        texts = prepared.texts[:120]
        port = free_port()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": url, "HOINGHI_SECRET_KEY": SECRET,
               "REDIS_URL": redis.url, "HOINGHI_DATA_DIR": str(tmp_path / "data")}
        with (tmp_path / "server.log").open("wb") as log:
            process = subprocess.Popen([HOINGHI, "serve", "--port", str(port), "--workers", "2"], env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
        wait_for_http(f"http://127.0.0.1:{port}/login", process, 90)
        workers = [int(p) for p in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]
        assert len(workers) == 2
        hubs = set()
        for _ in range(40):  # new connections, spread over the workers: each hub names itself
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
                hubs.add(json.loads(response.read())["hub"])
        assert hubs == {f"hub-{pid}" for pid in workers}

        answers: list[tuple[str, str, dict[str, object]]] = []
        lock = threading.Lock()
        queue = [(text, uuid.uuid4().hex) for text in texts for _ in range(3)]  # each person scanned 3 times
        queue += queue[:30]  # and some of those scans sent again, same nonce (a kiosk's retry)

        def kiosk() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    text, nonce = queue.pop()
                body = json.dumps({"session_id": prepared.session_id, "credential": text, "nonce": nonce}).encode()
                request = urllib.request.Request(  # a new connection each time: the kernel spreads them
                    f"http://127.0.0.1:{port}/api/checkins", method="POST", data=body,
                    headers={"Authorization": f"Bearer {prepared.kiosk_token}", "Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = json.loads(response.read())
                with lock:
                    answers.append((text, nonce, answer))

        threads = [threading.Thread(target=kiosk) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(answers) == len(texts) * 3 + 30
        accepted = Counter(text for text, _, a in answers if a["outcome"] == "accepted")
        first_answers: dict[str, object] = {}
        for _, nonce, a in answers:
            assert a["outcome"] in ("accepted", "repeat"), a
            first_answers.setdefault(nonce, a["outcome"])
            assert first_answers[nonce] == a["outcome"]  # the same nonce, the same answer, whichever worker
        assert len(accepted) == len(texts) and max(accepted.values()) <= 2  # a retry of the accepted scan says so
        people = asyncio.run(stored(settings, prepared.session_id))
        assert len(people) == len(set(people)) == len(texts)  # nobody checked in twice

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
        assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
        redis.stop()
        asyncio.run(drop_postgres_database(url))
