"""A crash never loses an acknowledged check-in: SIGKILL the server in the middle of a burst."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from attendance.checkins import Method
from conference.accounts import Role, User
from tests.browser import HOINGHI, free_port, wait_for_http
from web import demo_data
from web.services import build
from web.settings import Settings, load

SECRET = "durability-secret-key-0123456789abcdef"


async def prepare(settings: Settings) -> tuple[int, str, list[str]]:
    """A 3,000-member province with a session open now; returns (session, kiosk token, QR texts)."""
    async with build(settings) as svc:
        await demo_data.seed(svc.engine, svc.conference.passwords, datetime.now(UTC), members=3000)
        admin = User(0, "system", "system", Role.ADMIN, None)
        [conf] = await svc.conference.store.list_conferences()
        start = datetime.now(UTC) + timedelta(minutes=20)
        session = await svc.conference.add_session(admin, conf.id, "Phiên kiểm thử", start, start + timedelta(hours=2))
        invited = await svc.conference.store.invitations_of(conf.id)
        hall = max({i.hall_id for i in invited}, key=lambda h: sum(i.hall_id == h for i in invited))
        people = [i.person_id for i in invited]  # the rest of the province is accepted there too, flagged
        creds = await svc.credentials.current(people)
        texts = [await svc.credentials.text(creds[p]) for p in people]
        code, _ = await svc.devices.issue_enrolment_code(hall, None)
        _, token = await svc.devices.enrol(code, "Kiosk kiểm thử")
        return session.id, token, texts


async def stored_checkins(settings: Settings, session_id: int) -> set[int]:
    async with build(settings) as svc:
        return {c.person_id for c in await svc.ledger.checkins(session_id) if c.method is Method.QR}


def start_server(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": settings.database_url,
           "HOINGHI_SECRET_KEY": SECRET}
    with log.open("ab") as out:
        return subprocess.Popen([HOINGHI, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)


def test_sigkill_during_a_burst_loses_no_acknowledged_check_in(database_url: str, tmp_path: Path) -> None:
    """On SQLite and on PostgreSQL (the `database_url` fixture runs both)."""
    settings = load({}, None, database_url=database_url, secret_key=SECRET, password_time_cost=1,
                    password_memory_kib=8192)
    session_id, token, texts = asyncio.run(prepare(settings))
    port = free_port()
    server = start_server(settings, port, tmp_path / "server.log")
    wait_for_http(f"http://127.0.0.1:{port}/login", server, 60)
    acknowledged: set[str] = set()
    lock = threading.Lock()
    queue = list(texts)

    def kiosk() -> None:
        while True:
            with lock:
                if not queue:
                    return
                text = queue.pop()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/checkins", method="POST",
                data=json.dumps({"session_id": session_id, "credential": text, "nonce": uuid.uuid4().hex}).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = json.loads(response.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                return  # the server is gone
            if answer["outcome"] == "accepted":
                with lock:
                    acknowledged.add(text)

    workers = [threading.Thread(target=kiosk) for _ in range(12)]
    for w in workers:
        w.start()
    while len(acknowledged) < 300 and server.poll() is None:
        threading.Event().wait(0.01)
    server.send_signal(signal.SIGKILL)  # mid-burst: requests are in flight
    server.wait(timeout=10)
    for w in workers:
        w.join(timeout=30)
    assert len(acknowledged) >= 300 and queue, "the burst must still be running when the server dies"

    restarted = start_server(settings, port, tmp_path / "server.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/login", restarted, 60)
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
    by_text = asyncio.run(text_owners(settings, texts))
    stored = asyncio.run(stored_checkins(settings, session_id))
    missing = [t for t in acknowledged if by_text[t] not in stored]
    assert not missing, f"{len(missing)} acknowledged check-ins lost of {len(acknowledged)}"


async def text_owners(settings: Settings, texts: list[str]) -> dict[str, int]:
    async with build(settings) as svc:
        return {t: (await svc.credentials.resolve(t, None)).person_id for t in texts}
