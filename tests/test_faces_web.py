"""Face enrolment and recognition through the real app: the operator's and participant's enrolment, the
kiosk's identification (and check-in), withdrawal, access control, the audit log, and that no picture
is kept anywhere: not in the database, its journal, temporary files or logs."""

from __future__ import annotations

import base64
import logging
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from starlette.testclient import TestClient

from attendance.face_engine import FrameGate
from attendance.face_service import open_template
from attendance.keys import Sealer
from conference.audit import AuditAction
from tests.faces_photos import GROUPS, analysed, calibration, photo
from tests.world import World, build_world, sign_in
from web.app import create_app
from web.bootstrap import Services
from web.settings import Settings, load

SECRET = "t" * 40
JPEG_STARTS = (b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1", b"\xff\xd8\xff\xdb", b"\xff\xd8\xff\xee")
PNG_START = b"\x89PNG\r\n\x1a\n"


def face_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"face_workers": 0, "face_liveness": "off"} | overrides
    return load({}, None, database_url=f"sqlite:///{tmp_path / 'app.db'}", secret_key=SECRET,
                data_dir=tmp_path / "data", password_time_cost=1, password_memory_kib=8192, **values)


@pytest.fixture
def face_client(tmp_path: Path, faces_dir: Path) -> Iterator[tuple[TestClient, World]]:
    """The app with a calibration recorded (1:N identification is refused until one is)."""
    with TestClient(create_app(face_settings(tmp_path))) as client:
        assert client.portal is not None
        client.portal.call(services(client).biometrics.record_calibration, calibration(faces_dir))
        yield client, client.portal.call(build_world, services(client))


def services(client: TestClient) -> Services:
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    return svc


def kiosk(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.kiosk_token}"}


def enrol(client: TestClient, csrf: str, pid: int, image: bytes, **fields: str) -> Any:
    return client.post(f"/api/persons/{pid}/face", headers={"X-CSRF-Token": csrf},
                       data={"consent": "true"} | fields, files={"image": ("face.jpg", image, "image/jpeg")})


def biometric_entries(client: TestClient) -> list[Any]:
    assert client.portal is not None
    entries = client.portal.call(services(client).conference.store.audit_entries)
    return [e for e in entries if e.action is AuditAction.BIOMETRIC]


def test_enrol_identify_check_in_and_withdraw(face_client: tuple[TestClient, World], faces_dir: Path) -> None:
    client, world = face_client
    a1, a2 = world.persons["A1"], world.persons["A2"]
    csrf = sign_in(client, "clerk.c1")
    done = enrol(client, csrf, a1, photo(faces_dir / "obama" / "obama1.jpg"))
    assert done.status_code == 201, done.text
    assert done.json()["consent"]["channel"] == "hall_operator" and done.json()["consent"]["text_version"] == "2026.1"
    assert enrol(client, csrf, a2, photo(faces_dir / "biden" / "biden1.jpg"), channel="paper").status_code == 201
    status = client.get(f"/api/persons/{a2}/face").json()
    assert status["enrolled"] and status["consent"]["channel"] == "paper"

    # the kiosk: a group photo, one result per face; with check_in, the accepted are checked in
    group = photo(faces_dir / GROUPS / "obama_and_biden.jpg")
    found = client.post("/api/faces/identify", headers=kiosk(world), data={
        "session_id": str(world.session_id), "check_in": "true", "nonce": "kiosk-1-frame-9"},
        files={"image": ("frame.jpg", group, "image/jpeg")})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["liveness"] == "passed" and body["liveness_mode"] == "off" and body["gallery_size"] == 2
    named = {f["person"]["full_name"]: f for f in body["faces"] if f["person"]}
    assert set(named) == {"Nguyễn Văn An", "Trần Thị Bình"} and len(body["faces"]) == 3
    an = named["Nguyễn Văn An"]
    assert an["decision"] == "accept" and an["message"] == "Xin chào Nguyễn Văn An" and an["face_score"] < 0.55
    assert an["checkin"]["outcome"] == "accepted" and an["checkin"]["checkin"]["method"] == "face"
    assert an["checkin"]["checkin"]["face_score"] == pytest.approx(an["distance"], abs=1e-4)
    stranger = next(f for f in body["faces"] if not f["person"])
    assert stranger["decision"] == "reject" and stranger["message"] == "Không nhận diện được khuôn mặt"
    # a repeated upload (same nonce) changes nothing; JSON with base64 works too
    again = client.post("/api/faces/identify?lang=en", headers=kiosk(world), json={
        "session_id": world.session_id, "check_in": True, "nonce": "kiosk-1-frame-9",
        "image": "data:image/jpeg;base64," + base64.b64encode(group).decode()}).json()
    assert {f["checkin"]["outcome"] for f in again["faces"] if "checkin" in f} == {"accepted"}
    assert services(client).ledger is not None
    rows = client.get(f"/api/sessions/{world.session_id}/checkins", params={"hall_id": world.halls["C1"]}).json()
    assert sorted(r["method"] for r in rows) == ["face", "face"]

    # every biometric action is logged: two enrolments, and each named face of each identification
    entries = biometric_entries(client)
    assert sum("enrolled" in e.detail for e in entries) == 2
    assert sum("identified (accept" in e.detail for e in entries) == 4
    assert all(e.device_id == world.kiosk_device_id for e in entries if "identified" in e.detail)

    # the participant withdraws: the template is gone at once, and the kiosk no longer knows them
    member = sign_in(client, "member.a1")
    gone = client.delete(f"/api/persons/{a1}/face", headers={"X-CSRF-Token": member})
    assert gone.status_code == 200 and gone.json()["template_deleted"] is True
    assert client.get(f"/api/persons/{a1}/face").json()["enrolled"] is False
    after = client.post("/api/faces/identify", headers=kiosk(world), json={
        "session_id": world.session_id, "image": base64.b64encode(group).decode()}).json()
    assert "Nguyễn Văn An" not in {f["person"]["full_name"] for f in after["faces"] if f["person"]}
    assert any("withdrawn" in e.detail and e.actor_user_id is not None for e in biometric_entries(client))


def test_access_is_scoped(face_client: tuple[TestClient, World], faces_dir: Path) -> None:
    client, world = face_client
    a1, a2, b1 = world.persons["A1"], world.persons["A2"], world.persons["B1"]
    not_a_picture = b"not a picture"
    # a kiosk acts for its own hall only; no token, no answer
    wrong_hall = client.post("/api/faces/identify", headers=kiosk(world), json={
        "session_id": world.session_id, "hall_id": world.halls["C2"], "image": base64.b64encode(b"x").decode()})
    assert wrong_hall.status_code == 403 and wrong_hall.json()["error"] == "wrong_hall"
    assert client.post("/api/faces/identify", json={"session_id": world.session_id}).status_code == 401
    assert client.post("/api/faces/verify", headers=kiosk(world), json={
        "session_id": world.session_id, "person_id": 99999, "image": "eA=="}).status_code == 403
    not_enrolled = client.post("/api/faces/verify", headers=kiosk(world), json={
        "session_id": world.session_id, "person_id": b1, "image": "eA=="})
    assert not_enrolled.status_code == 404 and not_enrolled.json()["error"] == "not_enrolled"
    # a participant: their own face only
    member = sign_in(client, "member.a1")
    assert client.get(f"/api/persons/{a2}/face").status_code == 403
    assert enrol(client, member, a2, not_a_picture).status_code == 403
    assert client.delete(f"/api/persons/{a2}/face", headers={"X-CSRF-Token": member}).status_code == 403
    assert client.get(f"/persons/{a2}/consent").status_code == 403
    own = enrol(client, member, a1, not_a_picture)
    assert own.status_code == 422 and own.json()["error"] == "not_an_image"  # allowed; the picture is refused
    assert client.get(f"/persons/{a1}/consent").status_code == 200
    # staff: a hall clerk enrols in scope; a chair or an organiser does not enrol; outside scope nobody does
    clerk = sign_in(client, "clerk.c1")
    assert enrol(client, clerk, b1, not_a_picture).status_code == 403
    assert enrol(client, clerk, a2, not_a_picture).status_code == 422
    assert enrol(client, clerk, a2, not_a_picture, channel="participant_page").status_code == 422
    assert client.post(f"/api/persons/{a2}/face", data={"consent": "true"},
                       files={"image": ("f.jpg", not_a_picture, "image/jpeg")}).status_code == 403  # no CSRF token
    for who in ("chair.c1", "org.d1"):
        token = sign_in(client, who)
        assert enrol(client, token, a2, not_a_picture).status_code == 403, who
        assert client.get(f"/api/persons/{a2}/face").status_code == 200, who  # may see it (logged)
    client.cookies.clear()
    assert client.get(f"/api/persons/{a2}/face").status_code == 401
    assert client.get("/api/faces/consent-text").json()["version"] == "2026.1"
    # a kiosk whose previous picture is still being analysed is told to wait
    gate = FrameGate()
    gate.busy = True
    services(client).biometrics._gates[world.kiosk_device_id] = gate
    busy = client.post("/api/faces/identify", headers=kiosk(world), json={
        "session_id": world.session_id, "image": base64.b64encode(photo(faces_dir / "biden/biden1.jpg")).decode()})
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"


def test_the_participant_page_enrols_prints_and_withdraws(face_client: tuple[TestClient, World], faces_dir: Path
                                                          ) -> None:
    client, world = face_client
    csrf = sign_in(client, "member.a1")
    page = client.get("/me/face")
    assert page.status_code == 200 and "Đăng ký khuôn mặt (không bắt buộc)" in page.text
    assert "getUserMedia" not in page.text and "face.js" in page.text and "không bắt buộc" in page.text
    assert page.headers["cache-control"] == "no-store, private"
    no_consent = client.post("/me/face", data={"csrf": csrf, "what": "enrol"},
                             files={"image": ("a.jpg", photo(faces_dir / "kit_harington/kit1.jpg"), "image/jpeg")})
    assert no_consent.status_code == 422 and "Cần đánh dấu đồng ý" in no_consent.text
    done = client.post("/me/face", data={"csrf": csrf, "what": "enrol", "consent": "yes", "text_version": "2026.1"},
                       files={"image": ("a.jpg", photo(faces_dir / "kit_harington/kit1.jpg"), "image/jpeg")},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/me/face?done=enrolled"
    shown = client.get("/me/face?done=enrolled").text
    assert "Đã đăng ký khuôn mặt lúc" in shown and "qua trang cá nhân" in shown and "Rút lại đồng ý" in shown
    sheet = client.get(f"/persons/{world.persons['A1']}/consent").text
    assert "PHIẾU ĐỒNG Ý SỬ DỤNG KHUÔN MẶT ĐỂ ĐIỂM DANH" in sheet and "Nguyễn Văn An" in sheet
    assert "Chi bộ thôn Một" in sheet and "2026.1" in sheet and "365 ngày" in sheet
    gone = client.post("/me/face", data={"csrf": csrf, "what": "withdraw"}, follow_redirects=False)
    assert gone.status_code == 303
    after = client.get("/me/face").text
    assert "Chưa đăng ký khuôn mặt" in after and "Đã rút lại đồng ý lúc" in after
    assert client.post("/me/face", data={"what": "withdraw"}).status_code == 403  # CSRF
    blank = client.get(f"/persons/{world.persons['A2']}/consent")  # staff print a blank form to sign
    assert blank.status_code == 403
    sign_in(client, "clerk.c1")
    form = client.get(f"/persons/{world.persons['A2']}/consent").text
    assert "Trần Thị Bình" in form and "……/……/………" in form


def visible_temporary_file(directory: Path) -> Any:
    def make(*args: Any, **kwargs: Any) -> Any:
        return tempfile.NamedTemporaryFile(*args, **(kwargs | {"delete": False, "dir": directory}))

    return make


def test_no_picture_is_kept_anywhere(face_client: tuple[TestClient, World], faces_dir: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Uploads over 1 MB would be spooled to a temporary file by the default form parser: here every
    temporary file is made visible (named, kept) to prove none is written."""
    client, world = face_client
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(tempfile, "TemporaryFile", visible_temporary_file(scratch))
    with tempfile.SpooledTemporaryFile(max_size=10) as probe:
        probe.write(b"x" * 100)  # the detector works: a spilled spool shows up in the scratch directory
        assert len(list(scratch.iterdir())) == 1
    for leftover in scratch.iterdir():
        leftover.unlink()
    caplog.set_level(logging.DEBUG)

    alex = cv2.imdecode(np.frombuffer(photo(faces_dir / "alex_lacamoire/alex3.jpg"), np.uint8), cv2.IMREAD_COLOR)
    big_png = cv2.imencode(".png", alex)[1].tobytes()
    assert len(big_png) > 1024 * 1024
    uploads = [big_png, photo(faces_dir / "alex_lacamoire/alex1.jpg")]
    csrf = sign_in(client, "clerk.c1")
    assert enrol(client, csrf, world.persons["A1"], big_png).status_code == 201
    found = client.post("/api/faces/identify", headers=kiosk(world), data={"session_id": str(world.session_id)},
                        files={"frames": ("f.jpg", uploads[1], "image/jpeg")}).json()
    assert found["faces"][0]["decision"] == "accept"

    # no picture in the database, its WAL journal, the data directory or any temporary file
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "app.db" for p in files) and not list(scratch.iterdir())
    needles = [PNG_START, *JPEG_STARTS] + [u[i:i + 48] for u in uploads for i in (64, len(u) // 2)]
    for path in files:
        data = path.read_bytes()
        assert not any(n in data for n in needles), path
    # the template column holds ciphertext: the embedding's bytes are nowhere in it, and it opens to them
    with sqlite3.connect(tmp_path / "app.db") as db:
        (sealed,), = db.execute("SELECT ciphertext FROM face_templates").fetchall()
    embedding = analysed(big_png).faces[0].embedding
    assert embedding is not None
    plain = embedding.astype("<f4").tobytes()
    assert not any(plain[i:i + 16] in sealed for i in range(0, len(plain) - 16, 4))
    assert np.allclose(open_template(Sealer(SECRET), world.persons["A1"], sealed), embedding, atol=1e-6)
    # nor in the logs
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert base64.b64encode(uploads[1][:300]).decode()[:40] not in logged and "PNG" not in logged


def test_liveness_over_http_with_the_process_pool(tmp_path: Path, faces_dir: Path) -> None:
    with TestClient(create_app(face_settings(tmp_path, face_workers=1, face_liveness="blink_or_turn"))) as client:
        assert client.portal is not None
        world = client.portal.call(build_world, services(client))
        client.portal.call(services(client).biometrics.record_calibration, calibration(faces_dir))
        csrf = sign_in(client, "clerk.c1")
        assert enrol(client, csrf, world.persons["A1"], photo(faces_dir / "obama/obama1.jpg")).status_code == 201
        with sqlite3.connect(tmp_path / "app.db") as db:  # the worker process computed the same template
            (sealed,), = db.execute("SELECT ciphertext FROM face_templates").fetchall()
        expected = analysed(faces_dir / "obama/obama1.jpg").faces[0].embedding
        assert expected is not None
        assert np.allclose(open_template(Sealer(SECRET), world.persons["A1"], sealed), expected, atol=1e-5)
        frame = photo(faces_dir / "obama/obama5-480p.jpg")
        single = client.post("/api/faces/identify", headers=kiosk(world), json={
            "session_id": world.session_id, "image": base64.b64encode(frame).decode()}).json()
        assert single["liveness"] == "failed" and single["liveness_failure"] == "too_few_frames"
        assert single["faces"] == [] and single["message"].startswith("Vui lòng nhìn vào camera")
        held_up = client.post("/api/faces/identify", headers=kiosk(world), data={"session_id": str(world.session_id)},
                              files=[("frames", (f"{n}.jpg", frame, "image/jpeg")) for n in range(6)]).json()
        assert held_up["liveness"] == "failed" and held_up["liveness_failure"] == "no_movement"
        assert held_up["faces"] == []
        assert not any("identified" in e.detail for e in biometric_entries(client))  # nobody was searched for
