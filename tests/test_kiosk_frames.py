"""The kiosk camera pipeline through the real `/ws` endpoint: JPEG frames of real QR codes in,
verdicts out, exactly as `POST /api/checkins` would answer them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from starlette.testclient import TestClient

from attendance.faces import ConsentChannel
from tests.faces_photos import calibration, people, photo
from tests.kiosk_media import forged, jpeg, qr_jpeg, qr_picture
from tests.test_checkin_api import qr_text
from tests.test_live import closed_with, hello, ticket
from tests.world import World, build_world
from web.app import create_app
from web.kiosk.recent import RecentCodes
from web.live.protocol import BINARY_FRAME_MAX, Close
from web.settings import Settings

Socket = Any


def kiosk_camera(ws: Socket, world: World, session_id: int | None = None) -> dict[str, Any]:
    ws.send_json({"type": "hello", "v": 1, "device_token": world.kiosk_token})
    assert ws.receive_json()["type"] == "welcome"
    ws.send_json({"type": "camera", "session_id": session_id or world.session_id, "mode": "qr"})
    answer: dict[str, Any] = ws.receive_json()
    return answer


def show(ws: Socket, picture: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Send one frame; the verdicts it produced and its `read` acknowledgement."""
    ws.send_bytes(picture)
    verdicts = []
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == "read":
            return verdicts, message
        verdicts.append(message)


def test_a_qr_code_in_a_frame_checks_the_person_in_once(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    an = qr_jpeg(qr_text(client, world.persons["A1"]))
    with client.websocket_connect("/ws") as ws:
        ready = kiosk_camera(ws, world)
        assert ready["type"] == "camera" and ready["session_id"] == world.session_id and ready["mode"] == "qr"
        [verdict], read = show(ws, an)
        assert read == {"type": "read", "n": 1, "codes": 1, "dropped": False}
        assert verdict["type"] == "verdict" and verdict["outcome"] == "accepted"
        assert verdict["message"] == "Xin chào Nguyễn Văn An"
        assert verdict["person"]["unit_name"] == "Chi bộ thôn Một"
        assert verdict["checkin"]["method"] == "qr" and verdict["checkin"]["hall_id"] == world.halls["C1"]
        assert verdict["nonce"].startswith("cam-")
        for _ in range(3):  # the card is still in front of the camera: no second attempt
            verdicts, read = show(ws, an)
            assert verdicts == [] and read["codes"] == 1
        verdicts, read = show(ws, qr_jpeg(None))  # nobody in front of it: nothing at all
        assert verdicts == [] and read["codes"] == 0
        [bình], _ = show(ws, qr_jpeg(qr_text(client, world.persons["A2"])))
        assert bình["outcome"] == "accepted" and bình["message"] == "Xin chào Trần Thị Bình"
    svc = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None
    checkins = client.portal.call(svc.ledger.checkins, world.session_id)
    assert sorted(c.person_id for c in checkins) == sorted([world.persons["A1"], world.persons["A2"]])


def test_repeat_and_forged_codes(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    text = qr_text(client, world.persons["A1"])
    first = client.post("/api/checkins", headers={"Authorization": f"Bearer {world.kiosk_token}"},
                        json={"session_id": world.session_id, "credential": text})
    assert first.json()["outcome"] == "accepted"
    with client.websocket_connect("/ws") as ws:
        kiosk_camera(ws, world)
        [repeat], _ = show(ws, qr_jpeg(text))
        at = first.json()["checkin"]["server_time"]
        shown_at = datetime.fromisoformat(at).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M")
        assert repeat["outcome"] == "repeat" and repeat["message"] == f"Đã điểm danh lúc {shown_at} tại Chi bộ thôn Một"
        [refused], _ = show(ws, qr_jpeg(forged(qr_text(client, world.persons["A2"]))))
        assert refused["outcome"] == "refused" and refused["reason"] == "bad_signature"
        assert refused["message"] == "Mã bị sửa đổi hoặc giả mạo" and refused["person"] is None
        [other], _ = show(ws, qr_jpeg("https://example.org/not-ours"))
        assert other["outcome"] == "refused" and other["reason"] == "malformed"


def test_two_codes_in_one_frame_are_both_attempted(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    left, right = (qr_picture(qr_text(client, world.persons[p]), module=3) for p in ("A1", "A2"))
    both = left.copy()
    both[:, 320:] = right[:, 160:480]
    both[:, :320] = left[:, 160:480]
    with client.websocket_connect("/ws") as ws:
        kiosk_camera(ws, world)
        verdicts, read = show(ws, jpeg(both))
        assert read["codes"] == 2
        assert sorted(v["message"] for v in verdicts) == ["Xin chào Nguyễn Văn An", "Xin chào Trần Thị Bình"]


def test_bad_frames_are_refused_clearly(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    with client.websocket_connect("/ws") as ws:  # garbage: not a picture at all
        kiosk_camera(ws, world)
        ws.send_bytes(b"\x00garbage, not a picture" * 10)
        assert closed_with(ws) == Close.BAD_MESSAGE
    with client.websocket_connect("/ws") as ws:  # the start of a JPEG, cut short: an error, the socket lives on
        kiosk_camera(ws, world)
        ws.send_bytes(qr_jpeg(None)[:300])
        assert ws.receive_json() == {"type": "error", "code": "bad_frame",
                                     "message": "the frame is not a decodable JPEG picture"}
        assert ws.receive_json()["type"] == "read"
        [verdict], _ = show(ws, qr_jpeg(qr_text(client, world.persons["A1"])))
        assert verdict["outcome"] == "accepted"
    with client.websocket_connect("/ws") as ws:  # too big
        kiosk_camera(ws, world)
        ws.send_bytes(b"\xff\xd8\xff" + bytes(BINARY_FRAME_MAX))
        assert closed_with(ws) == Close.TOO_BIG
    with client.websocket_connect("/ws") as ws:  # a frame before `camera`
        ws.send_json({"type": "hello", "v": 1, "device_token": world.kiosk_token})
        ws.receive_json()
        ws.send_bytes(qr_jpeg(None))
        assert closed_with(ws) == Close.BAD_MESSAGE
    with client.websocket_connect("/ws") as ws:  # a frame instead of hello
        ws.send_bytes(qr_jpeg(None))
        assert closed_with(ws) == Close.BAD_AUTH


def test_only_a_kiosk_of_the_sessions_conference_opens_a_camera(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    token = ticket(client, "org.p")
    with client.websocket_connect("/ws") as ws:
        hello(ws, token)
        ws.send_json({"type": "camera", "session_id": world.session_id})
        assert ws.receive_json()["code"] == "forbidden"
        ws.send_bytes(qr_jpeg(None))
        assert closed_with(ws) == Close.BAD_MESSAGE
    with client.websocket_connect("/ws") as ws:
        assert kiosk_camera(ws, world, session_id=999)["code"] == "not_found"
        ws.send_json({"type": "camera", "session_id": world.session_id, "mode": "dance"})
        assert closed_with(ws) == Close.BAD_MESSAGE


def test_a_revoked_kiosk_stops_checking_in(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    svc = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None
    with client.websocket_connect("/ws") as ws:
        kiosk_camera(ws, world)
        client.portal.call(svc.devices.revoke, world.kiosk_device_id)
        ws.send_bytes(qr_jpeg(qr_text(client, world.persons["A1"])))
        assert closed_with(ws) == Close.BAD_AUTH
    assert client.portal.call(svc.ledger.checkins, world.session_id) == []


def test_the_same_code_is_attempted_again_only_after_a_pause() -> None:
    recent = RecentCodes(window=3.0, limit=2)
    assert recent.fresh("A", 0.0)
    assert not recent.fresh("A", 2.0) and not recent.fresh("A", 4.5)  # held up: every sighting extends it
    assert recent.fresh("A", 8.0)  # shown again after a pause
    assert recent.fresh("B", 8.1) and recent.fresh("C", 8.2)
    assert recent.fresh("A", 8.3)  # forgotten: only the last `limit` codes are remembered
    recent.forget("C")
    assert recent.fresh("C", 8.4)


@pytest.mark.parametrize("frames", [6])
def test_frames_sent_while_one_is_read_are_dropped_not_queued(world_client: tuple[TestClient, World],
                                                              frames: int) -> None:
    client, world = world_client
    picture = qr_jpeg(None)
    with client.websocket_connect("/ws") as ws:
        kiosk_camera(ws, world)
        for _ in range(frames):
            ws.send_bytes(picture)
        reads = [ws.receive_json() for _ in range(frames)]
    assert sorted(r["n"] for r in reads) == list(range(1, frames + 1))
    assert any(r["dropped"] for r in reads) and not all(r["dropped"] for r in reads)


def letterboxed(path: Path) -> bytes:
    """A photo as a kiosk camera frame: fitted into 640×480, JPEG."""
    picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
    height, width = picture.shape[:2]
    scale = min(640 / width, 480 / height)
    small = cv2.resize(picture, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((480, 640, 3), np.uint8)
    top, left = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    return bytes(cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())


def until_type(ws: Socket, kinds: tuple[str, ...]) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] in kinds:
            return message


def test_face_mode_checks_in_an_enrolled_face(app_settings: Settings, faces_dir: Path) -> None:
    settings = replace(app_settings, face_liveness="off", face_workers=0)
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None
        svc = client.app.state.services  # type: ignore[attr-defined]
        world = client.portal.call(build_world, svc)
        client.portal.call(svc.biometrics.record_calibration, calibration(faces_dir))  # 1:N is off until one is
        photos = people(faces_dir)
        enrolled, other = photos["obama"], photos["rose_leslie"]
        client.portal.call(svc.biometrics.faces.enrol, world.persons["A1"], photo(enrolled[0]),
                           ConsentChannel.PAPER, True)
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"type": "hello", "v": 1, "device_token": world.kiosk_token})
            ws.receive_json()
            ws.send_json({"type": "camera", "session_id": world.session_id, "mode": "face"})
            assert ws.receive_json()["mode"] == "face"
            ws.send_bytes(letterboxed(enrolled[1]))
            verdict = until_type(ws, ("verdict",))
            assert verdict["source"] == "face" and verdict["outcome"] == "accepted"
            assert verdict["message"] == "Xin chào Nguyễn Văn An" and verdict["checkin"]["method"] == "face"
            assert 0 < verdict["checkin"]["face_score"] < 0.55  # (its `read` came first: faces run beside QR)
            ws.send_bytes(letterboxed(other[0]))  # somebody not enrolled: a hint, no verdict
            hint = until_type(ws, ("face", "verdict"))
            assert hint == {"type": "face", "state": "not_recognised", "message": "Không nhận diện được khuôn mặt"}

