"""A crash never loses an acknowledged check-in: SIGKILL the server in the middle of a burst."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from attendance.checkins import Method
from tests.served import SECRET, Hub, prepare
from web.bootstrap import build
from web.settings import Settings, load


async def stored_checkins(settings: Settings, session_id: int) -> set[int]:
    async with build(settings) as svc:
        return {c.person_id for c in await svc.ledger.checkins(session_id) if c.method is Method.QR}


def test_sigkill_during_a_burst_loses_no_acknowledged_check_in(database_url: str, tmp_path: Path) -> None:
    """On SQLite and on PostgreSQL (the `database_url` fixture runs both)."""
    settings = load({}, None, database_url=database_url, secret_key=SECRET, password_time_cost=1,
                    password_memory_kib=8192)
    prepared = asyncio.run(prepare(settings))
    session_id, token, texts = prepared.session_id, prepared.kiosk_token, prepared.texts
    hub = Hub(settings, tmp_path / "server.log").start()
    port = hub.port
    server = hub.process
    assert server is not None
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
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError):
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

    Hub(settings, tmp_path / "server.log", port=port).start().stop()  # it starts again after the crash
    by_text = asyncio.run(text_owners(settings, texts))
    stored = asyncio.run(stored_checkins(settings, session_id))
    missing = [t for t in acknowledged if by_text[t] not in stored]
    assert not missing, f"{len(missing)} acknowledged check-ins lost of {len(acknowledged)}"


async def text_owners(settings: Settings, texts: list[str]) -> dict[str, int]:
    async with build(settings) as svc:
        return {t: (await svc.credentials.resolve(t, None)).person_id for t in texts}
