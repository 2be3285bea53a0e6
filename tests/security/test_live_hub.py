"""Attacks on the live hub through its real WebSocket endpoint (issue 13, holes 5 and 6).

- A revoked kiosk, a deactivated account, a replayed ticket: closed or refused (4001), on every hub.
- Loading and keeping sessions: refused before any state is built; a session nobody reads is dropped.
- Flooding a connection with messages: closed with 4029; a huge frame before hello: never read whole.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import websockets.sync.client
from sqlalchemy import update
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from conference import tables
from tests.served import Hub, ThrowawayRedis
from tests.test_live import closed_with, hello, refused, subscribed, ticket
from tests.world import World, build_world, sign_in
from web.app import create_app
from web.live import hub as hub_module
from web.live import identity
from web.live.protocol import RATE_BURST, Close
from web.settings import Settings

Socket = Any


def closed_within(ws: Socket, seconds: float) -> int | None:
    """Ping until the hub closes the socket (its close code) or `seconds` pass (None: still open)."""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ws.send_json({"type": "ping"})
            while ws.receive_json()["type"] != "pong":
                pass
            time.sleep(0.1)
    except WebSocketDisconnect as closed:
        return int(closed.code)
    return None


@pytest.fixture
def no_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections are not read again in the test's time: only the bus can close them."""
    monkeypatch.setattr(identity, "RECHECK_SECONDS", 3600.0)
    monkeypatch.setattr(hub_module, "RECHECK_SECONDS", 3600.0)


@pytest.fixture(params=["memory", "redis"])
def two_hubs(request: pytest.FixtureRequest, app_settings: Settings) -> Iterator[tuple[TestClient, TestClient, World]]:
    """Two hubs on one store: the same one twice on the in-process bus, two apps on a Redis of the test's own."""
    if request.param == "memory":
        with TestClient(create_app(app_settings)) as client:
            assert client.portal is not None
            yield client, client, client.portal.call(build_world, client.app.state.services)  # type: ignore[attr-defined]
        return
    redis = ThrowawayRedis().start()
    try:
        settings = replace(app_settings, redis_url=redis.url)
        with TestClient(create_app(replace(settings, hub_id="a"))) as first:
            assert first.portal is not None
            world = first.portal.call(build_world, first.app.state.services)  # type: ignore[attr-defined]
            with TestClient(create_app(replace(settings, hub_id="b"))) as second:
                yield first, second, world
    finally:
        redis.stop()


def test_a_revoked_kiosk_is_closed_at_once_on_every_hub(two_hubs: tuple[TestClient, TestClient, World],
                                                       no_recheck: None) -> None:
    first, second, world = two_hubs
    with second.websocket_connect("/ws") as kiosk:
        kiosk.send_json({"type": "hello", "v": 1, "device_token": world.kiosk_token})
        assert kiosk.receive_json()["type"] == "welcome"
        assert subscribed(kiosk, f"session:{world.session_id}/hall:{world.halls['C1']}")["type"] == "snapshot"
        csrf = sign_in(first, "admin")
        answer = first.post(f"/api/devices/{world.kiosk_device_id}/revoke", headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 200
        assert closed_within(kiosk, 10) == Close.BAD_AUTH
    with second.websocket_connect("/ws") as again:  # and it cannot come back
        again.send_json({"type": "hello", "v": 1, "device_token": world.kiosk_token})
        assert closed_with(again) == Close.BAD_AUTH


def test_signing_out_closes_the_accounts_open_sockets_on_every_hub(
        two_hubs: tuple[TestClient, TestClient, World], no_recheck: None) -> None:
    """A stolen session's live socket ends with the session: sign-out everywhere closes it (4001) on every
    hub at once, over the bus, not at the next re-read."""
    first, second, world = two_hubs
    with second.websocket_connect("/ws") as board:
        hello(board, ticket(second, "org.p"))
        assert subscribed(board, f"session:{world.session_id}/unit:{world.units['P']}")["type"] == "snapshot"
        csrf = sign_in(first, "org.p")  # the account's owner, elsewhere, signs out
        answer = first.post("/logout", data={"csrf": csrf}, follow_redirects=False)
        assert answer.status_code == 303
        assert closed_within(board, 10) == Close.BAD_AUTH


def deactivate(client: TestClient, username: str) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]

    async def run() -> None:
        async with services.engine.begin() as c:
            await c.execute(update(tables.users).where(tables.users.c.username == username).values(active=False))

    assert client.portal is not None
    client.portal.call(run)


def test_a_deactivated_account_stops_acting_over_its_open_socket(world_client: tuple[TestClient, World],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    client, world = world_client
    monkeypatch.setattr(identity, "RECHECK_SECONDS", 0.2)
    with client.websocket_connect("/ws") as board:
        hello(board, ticket(client, "org.p"))
        assert subscribed(board, f"session:{world.session_id}/unit:{world.units['P']}")["type"] == "snapshot"
        deactivate(client, "org.p")  # as another hub or an administrator's tool would
        assert closed_within(board, 5) == Close.BAD_AUTH  # its next ping after 0.2 s is refused


def test_a_ticket_opens_one_connection_only_on_any_hub(two_hubs: tuple[TestClient, TestClient, World]) -> None:
    first, second, _ = two_hubs
    stolen = ticket(first, "org.p")
    with first.websocket_connect("/ws") as ws:
        hello(ws, stolen)
        with second.websocket_connect("/ws") as replay:
            replay.send_json({"type": "hello", "v": 1, "ticket": stolen})
            assert closed_within(replay, 3) == Close.BAD_AUTH


def test_a_refused_topic_builds_no_session_state(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    live = client.app.state.services.hub.sessions.live  # type: ignore[attr-defined]
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "member.a1"))  # a participant: no attendance topics
        assert refused(ws, f"session:{world.session_id}/unit:{world.units['P']}") == "forbidden"
        assert refused(ws, f"session:{world.session_id}/hall:{world.halls['C1']}") == "forbidden"
        assert world.session_id not in live
    with client.websocket_connect("/ws") as kiosk:  # a kiosk: only its own hall
        kiosk.send_json({"type": "hello", "v": 1, "device_token": world.kiosk_token})
        kiosk.receive_json()
        assert refused(kiosk, f"session:{world.session_id}/unit:{world.units['P']}") == "forbidden"
        assert refused(kiosk, f"session:{world.session_id}/hall:{world.halls['C2']}") == "forbidden"
        assert world.session_id not in live


def test_a_session_nobody_reads_is_dropped(world_client: tuple[TestClient, World],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    client, world = world_client
    hub = client.app.state.services.hub  # type: ignore[attr-defined]
    monkeypatch.setattr(hub_module, "SESSION_IDLE_SECONDS", 0.2)
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "org.p"))
        topic = f"session:{world.session_id}/unit:{world.units['P']}"
        assert subscribed(ws, topic)["type"] == "snapshot"
        assert world.session_id in hub.sessions.live
        time.sleep(0.3)
        assert client.portal is not None
        client.portal.call(hub._resync_now.set)
        time.sleep(0.3)
        assert world.session_id in hub.sessions.live  # still read
        ws.send_json({"type": "unsubscribe", "topic": topic})
        time.sleep(0.3)
        client.portal.call(hub._resync_now.set)
        deadline = time.monotonic() + 5
        while world.session_id in hub.sessions.live and time.monotonic() < deadline:
            time.sleep(0.05)
        assert world.session_id not in hub.sessions.live
        assert subscribed(ws, topic)["type"] == "snapshot"  # loaded again when asked


def test_a_flood_of_messages_is_closed_with_4029(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "org.p"))
        for _ in range(RATE_BURST * 3):
            ws.send_json({"type": "ping"})
        ws.send_json({"type": "hello", "v": 1, "ticket": "x"})  # a hub that let them all through closes on this
        assert _close_after_pongs(ws) == Close.TOO_MANY


def _close_after_pongs(ws: Socket) -> int:
    """The close code after the pongs the hub answered before it closed."""
    with pytest.raises(WebSocketDisconnect) as closed:
        for _ in range(RATE_BURST * 3 + 2):
            ws.receive_text()
    return closed.value.code


def test_the_server_does_not_read_a_huge_frame_before_hello(app_settings: Settings, tmp_path: Any) -> None:
    """`hoinghi serve` reads at most a camera frame's size of one message (uvicorn's ws_max_size)."""
    hub = Hub(app_settings, tmp_path / "server.log").start()
    try:
        with websockets.sync.client.connect(f"ws://127.0.0.1:{hub.port}/ws", max_size=None) as ws:
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                ws.send(b"x" * (4 * 1024 * 1024))  # the server may close while this is still being sent
                ws.recv(timeout=10)
            # 1009 (message too big), or the server dropped the connection while the frame was still being
            # sent, before its close frame could be read: either way it never read the frame whole (a server
            # reading it would answer its first message's refusal, 4002, instead)
            rcvd = closed.value.rcvd
            assert rcvd is None or rcvd.code == 1009, rcvd
    finally:
        hub.stop()
