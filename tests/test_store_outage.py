"""The database goes away (restart, failover) and comes back: every request meanwhile is refused as
retryable (503 with Retry-After, a page in the user's language), and a kiosk that retries with the same
nonce is counted once. The app reaches PostgreSQL through a TCP relay that the test cuts and restores."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.browser import free_port
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.test_checkin_api import qr_text
from tests.world import build_world, sign_in
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.postgres


class Relay:
    """127.0.0.1:<port> -> the PostgreSQL server, in a thread of its own; `cut()` closes the listener
    and every relayed connection (as a restarting server does), `restore()` listens again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread.start()

    def _call(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def restore(self) -> None:
        self._call(self._listen())

    def cut(self) -> None:
        self._call(self._cut())

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def relayed(app_settings: Settings) -> Iterator[tuple[Relay, Settings]]:
    url = asyncio.run(create_postgres_database())
    parsed = make_url(url)
    relay = Relay((parsed.host or "127.0.0.1", parsed.port or 5432))
    relay.restore()
    try:
        yield relay, replace(app_settings, database_url=parsed.set(host="127.0.0.1", port=relay.port)
                             .render_as_string(hide_password=False))
    finally:
        relay.stop()
        asyncio.run(drop_postgres_database(url))


def test_while_the_database_is_away_everything_is_refused_as_retryable(relayed: tuple[Relay, Settings]) -> None:
    relay, settings = relayed
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None
        world = client.portal.call(build_world, client.app.state.services)  # type: ignore[attr-defined]
        sign_in(client, "admin")
        texts = {p: qr_text(client, world.persons[p]) for p in ("A1", "A2")}
        assert client.get("/api/conferences").status_code == 200

        def check_in(person: str, nonce: str) -> Any:
            return client.post("/api/checkins", headers={"Authorization": f"Bearer {world.kiosk_token}"},
                               json={"session_id": world.session_id, "credential": texts[person], "nonce": nonce})

        response = client.post("/api/live/ticket", headers={"X-CSRF-Token": sign_in(client, "org.p")})
        ticket = response.json()["ticket"]
        sign_in(client, "admin")

        relay.cut()
        with client.websocket_connect("/ws") as ws:  # the live hub: closed with "try again later"
            ws.send_json({"type": "hello", "v": 1, "ticket": ticket})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1013
        answers = [client.get("/api/conferences"), client.get("/api/me")]
        answers += [check_in("A1", "k-1") for _ in range(3)]  # the kiosk tries, and again with the same nonce
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "5"
            assert answer.json()["error"] == "unavailable" and answer.json()["message"]
        page = client.get("/conferences", headers={"Accept-Language": "vi"})
        assert page.status_code == 503 and "thử lại" in page.text and page.headers["retry-after"] == "5"

        relay.restore()
        for nonce, person in (("k-1", "A1"), ("k-1", "A1"), ("k-2", "A2")):
            answer = check_in(person, nonce)
            for _ in range(20):  # the pool finds its connections dead and opens new ones
                if answer.status_code != 503:
                    break
                answer = check_in(person, nonce)
            assert answer.status_code == 200 and answer.json()["outcome"] == "accepted", answer.text
        checkins = client.portal.call(client.app.state.services.ledger.checkins,  # type: ignore[attr-defined]
                                      world.session_id)
        assert sorted(c.person_id for c in checkins) == sorted(world.persons[p] for p in ("A1", "A2"))
