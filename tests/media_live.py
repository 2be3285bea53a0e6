"""Real media through the real app, for the online-attendance tests: a presenter's camera (aiortc, a test
pattern) on air over the hub's socket, a participant's HLS fetches with their own viewer key, a WebRTC
viewer connection. The aiortc peers run on the app's own event loop (the TestClient's portal)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from starlette.testclient import TestClient

from tests.media_peers import Viewer, publisher_offer
from tests.test_live import hello, ticket, until
from tests.world import sign_in
from web.settings import Settings

Socket = Any
SEGMENT = re.compile(r"^\d+\.ts$", re.M)


def media_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test settings with the HLS files under the test's own directory, cut every second."""
    return replace(settings, media_dir=str(tmp_path / "media"), hls_segment_seconds=1)


def reply(ws: Socket) -> dict[str, Any]:
    """The next signalling answer on `ws` (pongs, state pushes and the like skipped)."""
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] in ("rtc_answer", "rtc_error"):
            return message


def media_state(ws: Socket, check: Any, seconds: float = 30) -> dict[str, Any]:
    """The first `media_state` pushed on `ws` that passes `check` (asked for with `media_watch` first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = until(ws, "media_state")
        if check(state):
            return state
    raise AssertionError("the media state never came")


@contextmanager
def on_air(client: TestClient, session_id: int, hls: bool = False) -> Iterator[dict[str, Any]]:
    """The province's organiser puts a real camera on air for the session; yields the media state once
    live (once its HLS stream has a segment, with `hls`). The camera stops at the end."""
    assert client.portal is not None
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "org.p"))
        pc: RTCPeerConnection = client.portal.call(publisher_offer)
        ws.send_json({"type": "rtc_offer", "session": session_id, "role": "publish",
                      "sdp": pc.localDescription.sdp})
        answer = reply(ws)
        assert answer["type"] == "rtc_answer", answer
        client.portal.call(pc.setRemoteDescription, RTCSessionDescription(answer["sdp"], "answer"))
        ws.send_json({"type": "media_watch", "session": session_id})
        state = media_state(ws, lambda s: s["live"] and (s["hls"] is not None or not hls))
        try:
            yield state
        finally:
            client.portal.call(pc.close)


def viewer_key(client: TestClient, username: str, session_id: int) -> str:
    """The participant's own HLS key, from the media API (signed in as them)."""
    sign_in(client, username)
    info = client.get(f"/api/sessions/{session_id}/media")
    assert info.status_code == 200, info.text
    return str(info.json()["hls_viewer"])


def fetch_segment(client: TestClient, hls_url: str, viewer: str) -> int:
    """What a player does: the playlist and its newest segment, under the viewer's own key; the segment's
    status (200, or 404 for a key the hub does not take)."""
    base = hls_url.rsplit("/", 1)[0] + f"/{viewer}/"
    playlist = client.get(base + "index.m3u8")
    if playlist.status_code != 200:
        return playlist.status_code
    segments = SEGMENT.findall(playlist.text)
    assert segments, playlist.text
    segment = client.get(base + segments[-1])
    assert segment.status_code != 200 or segment.content[:1] == b"\x47"  # an MPEG-TS packet's sync byte
    return segment.status_code


@contextmanager
def webrtc_viewer(client: TestClient, ws: Socket, session_id: int) -> Iterator[Viewer]:
    """A WebRTC viewer connection opened over `ws` (the viewer's own socket), connected and receiving."""
    assert client.portal is not None
    viewer = client.portal.call(Viewer)
    offer = client.portal.call(viewer.offer)
    ws.send_json({"type": "rtc_offer", "session": session_id, "role": "view", "sdp": offer})
    answer = reply(ws)
    assert answer["type"] == "rtc_answer", answer
    client.portal.call(viewer.answer, answer["sdp"])
    deadline = time.monotonic() + 20
    while viewer.video_frames < 10:
        assert time.monotonic() < deadline, "the viewer never received the picture"
        time.sleep(0.1)
    try:
        yield viewer
    finally:
        client.portal.call(viewer.close)


def ping(ws: Socket) -> dict[str, Any]:
    """A heartbeat; the pong, which says whether it counted as watching."""
    ws.send_json({"type": "ping"})
    return until(ws, "pong")
