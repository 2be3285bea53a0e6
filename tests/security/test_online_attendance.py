"""Attacks on online attendance through the real hub socket and HLS files (issue 13, hole 9).

A participant who only subscribes to the viewer topic and pings, with nothing on air, or on air but
pulling no media, must never become present online; nor with a forged viewer key. Only real media
counts: HLS segments fetched with the participant's own key, or a connected WebRTC viewer connection.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tests.media_live import fetch_segment, media_settings, on_air, ping, viewer_key, webrtc_viewer
from tests.test_live import hello, ticket
from tests.world import World, build_world
from web.app import create_app
from web.settings import Settings

Socket = Any


def open_app(app_settings: Settings, tmp_path: Path) -> TestClient:
    """The app with 1.2 s of watching to be present online."""
    return TestClient(create_app(replace(media_settings(app_settings, tmp_path), online_after_minutes=0.02)))


def statuses(client: TestClient, world: World) -> dict[int, str]:
    assert client.portal is not None
    svc = client.app.state.services  # type: ignore[attr-defined]
    return {c.person_id: c.status.value for c in client.portal.call(svc.ledger.checkins, world.session_id)}


def pings(ws: Socket, seconds: float, between: Any = lambda: None) -> list[dict[str, Any]]:
    """Ping every 0.3 s for `seconds` (calling `between` before each); the pongs."""
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        between()
        time.sleep(0.3)
        out.append(ping(ws))
    return out


def viewer_socket(client: TestClient, world: World, ws: Socket) -> None:
    hello(ws, ticket(client, "member.a1"))
    ws.send_json({"type": "subscribe", "topic": f"session:{world.session_id}/viewer"})
    assert ws.receive_json()["type"] == "subscribed"


def test_pings_without_real_media_count_nothing_and_hls_with_the_viewers_key_counts(
        app_settings: Settings, tmp_path: Path) -> None:
    with open_app(app_settings, tmp_path) as client:
        assert client.portal is not None
        world = client.portal.call(build_world, client.app.state.services)  # type: ignore[attr-defined]
        a1 = world.persons["A1"]
        with client.websocket_connect("/ws") as ws:
            viewer_socket(client, world, ws)
            # nothing on air: 3 s of pings (2.5 times the threshold) count nothing, and say why
            answered = pings(ws, 3.0)
            assert {(p["counted"], p.get("reason")) for p in answered} == {(False, "not_on_air")}
            assert a1 not in statuses(client, world)

            with on_air(client, world.session_id, hls=True) as state:
                # on air, but this participant pulls no media: still nothing
                answered = pings(ws, 3.0)
                assert answered[-1] == {"type": "pong", "t": answered[-1]["t"], "counted": False, "reason": "no_media"}
                assert not any(p["counted"] for p in answered)
                assert a1 not in statuses(client, world)

                # segments fetched under a forged key, or another participant's key made up: refused, uncounted
                key = viewer_key(client, "member.a1", world.session_id)
                user_id, mac = key.split(".")
                forged = [f"{user_id}.{'A' * 22}", f"{int(user_id) + 1}.{mac}", "not-a-key"]
                answered = pings(ws, 2.0, lambda: [fetch_segment(client, state["hls"], f) for f in forged])
                assert all(fetch_segment(client, state["hls"], f) == 404 for f in forged)
                assert not any(p["counted"] for p in answered)
                assert a1 not in statuses(client, world)

                # the player pulls segments with the participant's own key: the pings count
                answered = pings(ws, 4.0, lambda: fetch_segment(client, state["hls"], key))
                assert answered[-1]["counted"] is True and "reason" not in answered[-1]
                deadline = time.monotonic() + 5
                while statuses(client, world).get(a1) != "present_online" and time.monotonic() < deadline:
                    pings(ws, 0.3, lambda: fetch_segment(client, state["hls"], key))
                assert statuses(client, world).get(a1) == "present_online"


def test_a_connected_webrtc_viewer_counts(app_settings: Settings, tmp_path: Path) -> None:
    with open_app(app_settings, tmp_path) as client:
        assert client.portal is not None
        world = client.portal.call(build_world, client.app.state.services)  # type: ignore[attr-defined]
        a1 = world.persons["A1"]
        with on_air(client, world.session_id), client.websocket_connect("/ws") as ws:
            viewer_socket(client, world, ws)
            assert not any(p["counted"] for p in pings(ws, 2.0))  # on air, no media yet
            with webrtc_viewer(client, ws, world.session_id):
                deadline = time.monotonic() + 8
                while statuses(client, world).get(a1) != "present_online" and time.monotonic() < deadline:
                    answered = pings(ws, 0.6)
                assert answered[-1]["counted"] is True
                assert statuses(client, world).get(a1) == "present_online"
