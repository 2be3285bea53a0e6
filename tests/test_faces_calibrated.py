"""1:N face check-in stays off until a calibration was recorded (issue 16): the refusal through the real HTTP
API and the kiosk's camera socket, 1:1 verification after a QR scan meanwhile, then the real
`hoinghi faces calibrate DIR --record --by NAME` on the East Asian photos switches it on, and the hall's
kiosks page shows who ran it, when, and its figures. The store keeps calibrations on both backends."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from attendance.face_calibration import CalibrationRecord, Summary
from attendance.faces import ConsentChannel
from attendance.store import FaceStore
from conference.audit import AuditAction
from tests.faces_photos import east_asian_dir, people, photo
from tests.test_faces_web import SECRET, face_settings, kiosk, services
from tests.world import build_world, sign_in
from web.app import create_app
from web.cli import main

BY = "Nguyễn Thị Hiệu"


def identify(client: TestClient, token: dict[str, str], session_id: int, image: bytes) -> tuple[int, dict[str, object]]:
    answer = client.post("/api/faces/identify", headers=token, json={
        "session_id": session_id, "image": base64.b64encode(image).decode()})
    return answer.status_code, answer.json()


def camera(client: TestClient, device_token: str, session_id: int, mode: str) -> dict[str, object]:
    """The first answer to a kiosk's `camera` message on the live socket."""
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "v": 1, "device_token": device_token})
        ws.receive_json()
        ws.send_json({"type": "camera", "session_id": session_id, "mode": mode})
        answer: dict[str, object] = ws.receive_json()
        return answer


def test_identification_is_refused_until_the_command_records_a_calibration(
        tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = face_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None
        svc = services(client)
        world = client.portal.call(build_world, svc)
        obama = people(faces_dir)["obama"]
        client.portal.call(svc.biometrics.faces.enrol, world.persons["A1"], photo(obama[0]), ConsentChannel.PAPER,
                           True)
        # no calibration: 1:N refused over HTTP and on the camera socket, saying what to do
        status, body = identify(client, kiosk(world), world.session_id, photo(obama[1]))
        assert status == 409 and body["error"] == "face_not_calibrated"
        assert "hoinghi faces calibrate DIR --record --by NAME" in str(body["message"])
        refused = camera(client, world.kiosk_token, world.session_id, "face")
        assert refused["type"] == "error" and refused["code"] == "face_not_calibrated"
        assert camera(client, world.kiosk_token, world.session_id, "qr")["type"] == "camera"  # QR is not gated
        # 1:1 after a QR scan is not gated either
        verified = client.post("/api/faces/verify", headers=kiosk(world), json={
            "session_id": world.session_id, "person_id": world.persons["A1"],
            "image": base64.b64encode(photo(obama[1])).decode()})
        assert verified.status_code == 200 and verified.json()["decision"] == "accept"
        sign_in(client, "org.p")
        page = client.get(f"/halls/{world.halls['C1']}/kiosks")
        assert page.status_code == 200 and "chưa ghi nhận lần hiệu chuẩn nào" in page.text

        # --record needs who ran it; without --record nothing is kept
        with pytest.raises(SystemExit) as stopped:
            main(["faces", "calibrate", str(east_asian_dir(faces_dir)), "--plot", str(tmp_path / "c.png"), "--record"])
        assert stopped.value.code == 2 and "--by NAME" in capsys.readouterr().err
        config = tmp_path / "hoinghi.toml"
        config.write_text(f'database_url = "{settings.database_url}"\nsecret_key = "{SECRET}"\n'
                          f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
        main(["--config", str(config), "faces", "calibrate", str(east_asian_dir(faces_dir)), "--plot",
              str(tmp_path / "c.png"), "--population", "300"])
        assert "recorded:" not in capsys.readouterr().out
        assert identify(client, kiosk(world), world.session_id, photo(obama[1]))[0] == 409

        # the real command records it in the app's store: 1:N is on, in the running app, at once
        main(["--config", str(config), "faces", "calibrate", str(east_asian_dir(faces_dir)), "--plot",
              str(tmp_path / "c.png"), "--population", "300", "--record", "--by", BY])
        out = capsys.readouterr().out
        assert f"recorded: calibration 1 by {BY}" in out and "NOT safe" in out
        status, body = identify(client, kiosk(world), world.session_id, photo(obama[1]))
        faces = body["faces"]
        assert status == 200 and isinstance(faces, list) and faces[0]["decision"] == "accept"
        assert faces[0]["person"]["person_id"] == world.persons["A1"]
        assert camera(client, world.kiosk_token, world.session_id, "face")["mode"] == "face"
        page = client.get(f"/halls/{world.halls['C1']}/kiosks")
        assert f"Hiệu chuẩn nhận diện khuôn mặt: {BY}" in page.text
        assert "(7 người, 9 ảnh)" in page.text and "nhỏ nhất giữa hai người khác nhau 0.508" in page.text
        assert "với 300 người: CHƯA an toàn" in page.text
        entries = client.portal.call(svc.conference.store.audit_entries)
        assert any(e.action is AuditAction.BIOMETRIC and e.subject == "face_calibration:1" and BY in e.detail
                   for e in entries)
        # a participant may not see the hall's kiosks page, nor so its calibration line
        sign_in(client, "member.a1")
        assert client.get(f"/halls/{world.halls['C1']}/kiosks").status_code == 403


async def test_calibrations_are_kept_and_the_latest_one_read(engine: AsyncEngine) -> None:
    store = FaceStore(engine)
    assert await store.latest_calibration() is None
    first = CalibrationRecord("Ban tổ chức tỉnh", datetime(2026, 11, 2, 8, 30, tzinfo=UTC), "tinh-nguyen-vien", 40,
                              95, Summary(60, 0.05, 0.31, 0.52), Summary(4400, 0.55, 0.84, 1.1), 0.45, 0.52, 200,
                              0.05, 0.13, False)
    kept = await store.record_calibration(first)
    assert kept.id > 0 and kept == replace(first, id=kept.id)
    assert await store.latest_calibration() == kept
    no_pairs = replace(first, recorded_by="Sở Nội vụ", genuine=None, identification_safe=True)
    second = await store.record_calibration(no_pairs)
    latest = await store.latest_calibration()
    assert latest == second and latest.genuine is None and latest.identification_safe and second.id > kept.id
    with pytest.raises(ValueError):
        CalibrationRecord.of(None, None, 0, 0, "x", "  ", datetime.now(UTC))  # type: ignore[arg-type]
