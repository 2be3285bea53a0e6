"""Check-in through the real HTTP API: kiosks by QR, operators by hand, answers in Vietnamese."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from conference.audit import AuditAction, AuditEntry
from tests.test_pages import page_csrf
from tests.world import World, sign_in
from web.bootstrap import Services


def qr_text(client: TestClient, person_id: int) -> str:
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None
    creds = client.portal.call(svc.credentials.current, [person_id])
    return str(client.portal.call(svc.credentials.text, creds[person_id]))


@pytest.fixture
def kiosk(world_client: tuple[TestClient, World]) -> tuple[TestClient, World, dict[str, str]]:
    client, world = world_client
    return client, world, {"Authorization": f"Bearer {world.kiosk_token}"}


def scan(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/checkins", json=body, headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_kiosk_scan_accepted_then_repeat(kiosk: tuple[TestClient, World, dict[str, str]]) -> None:
    client, world, headers = kiosk
    text = qr_text(client, world.persons["A1"])
    first = scan(client, headers, {"session_id": world.session_id, "credential": text, "nonce": uuid.uuid4().hex})
    assert first["outcome"] == "accepted" and first["message"] == "Xin chào Nguyễn Văn An"
    assert first["person"]["unit_name"] == "Chi bộ thôn Một"
    assert first["checkin"]["method"] == "qr" and first["checkin"]["hall_id"] == world.halls["C1"]
    again = scan(client, headers, {"session_id": world.session_id, "credential": text, "nonce": uuid.uuid4().hex})
    assert again["outcome"] == "repeat"
    assert again["message"].startswith("Đã điểm danh lúc ") and again["message"].endswith(" tại Chi bộ thôn Một")
    english = client.post("/api/checkins?lang=en", headers=headers,
                          json={"session_id": world.session_id, "credential": text}).json()
    assert english["message"].startswith("Already checked in at ")


def test_refusals_are_clear(kiosk: tuple[TestClient, World, dict[str, str]]) -> None:
    client, world, headers = kiosk
    forged = qr_text(client, world.persons["A2"])
    forged = forged[:-6] + ("AAAAAA" if not forged.endswith("AAAAAA") else "BBBBBB")
    refused = scan(client, headers, {"session_id": world.session_id, "credential": forged})
    assert refused["outcome"] == "refused" and refused["reason"] in ("bad_signature", "malformed")
    garbage = scan(client, headers, {"session_id": world.session_id, "credential": "xin chào"})
    assert garbage["reason"] == "malformed" and garbage["message"] == "Mã không hợp lệ"


def test_wrong_hall_is_accepted_and_flagged(kiosk: tuple[TestClient, World, dict[str, str]]) -> None:
    client, world, headers = kiosk
    other = scan(client, headers, {"session_id": world.session_id, "credential": qr_text(client, world.persons["B1"])})
    assert other["outcome"] == "accepted" and other["checkin"]["wrong_hall"] is True


def test_a_kiosk_cannot_act_for_another_hall(kiosk: tuple[TestClient, World, dict[str, str]]) -> None:
    client, world, headers = kiosk
    response = client.post("/api/checkins", headers=headers, json={
        "session_id": world.session_id, "hall_id": world.halls["C2"], "credential": "x"})
    assert response.status_code == 403 and response.json()["error"] == "wrong_hall"


def test_bad_requests_name_the_field(kiosk: tuple[TestClient, World, dict[str, str]]) -> None:
    client, world, headers = kiosk
    cases = [
        ({"credential": "x"}, "session_id"),
        ({"session_id": world.session_id}, "credential"),
        ({"session_id": world.session_id, "credential": "x", "person_id": 1}, "credential"),
        ({"session_id": world.session_id, "credential": "x", "kiosk_time": "hôm qua"}, "kiosk_time"),
        ({"session_id": world.session_id, "credential": "x", "method": "telepathy"}, "method"),
        ({"session_id": "1", "credential": "x"}, "session_id"),
    ]
    for body, field_name in cases:
        response = client.post("/api/checkins", headers=headers, json=body)
        assert response.status_code == 422 and response.json()["field"] == field_name, (body, response.text)
    assert client.post("/api/checkins", headers=headers, json={"session_id": 999, "credential": "x"}).status_code == 404


def test_operator_manual_check_in_absence_undo_and_headcount(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    csrf = sign_in(client, "clerk.c1")
    h = {"X-CSRF-Token": csrf}
    base = {"session_id": world.session_id, "hall_id": world.halls["C1"]}
    manual = client.post("/api/checkins", headers=h, json=base | {"person_id": world.persons["A1"]}).json()
    assert manual["outcome"] == "accepted" and manual["checkin"]["method"] == "manual"
    undone = client.post("/api/checkins/undo", headers=h, json=base | {"person_id": world.persons["A1"]})
    assert undone.status_code == 200
    absent = client.post("/api/absences", headers=h, json=base | {"person_id": world.persons["A2"],
                                                                   "reason": "Ốm, có giấy xác nhận"})
    assert absent.status_code == 200 and absent.json()["status"] == "absent_excused"
    rows = client.get(f"/api/sessions/{world.session_id}/checkins", params={"hall_id": world.halls["C1"]}).json()
    assert [(r["person_id"], r["status"]) for r in rows] == [(world.persons["A2"], "absent_excused")]
    report = client.post("/api/headcounts", headers=h, json=base | {"expected": 40, "present": 35,
                                                                      "absent_excused": 3, "absent_unexcused": 2})
    assert report.status_code == 200
    too_many = client.post("/api/headcounts", headers=h, json=base | {"expected": 10, "present": 11})
    assert too_many.status_code == 422
    other_hall = client.post("/api/checkins", headers=h, json={"session_id": world.session_id,
                                                                "hall_id": world.halls["C2"],
                                                                "person_id": world.persons["B1"]})
    assert other_hall.status_code == 403
    sign_in(client, "member.a1")
    assert client.post("/api/checkins", json=base | {"person_id": world.persons["A1"]},
                       headers={"X-CSRF-Token": client.get("/api/me").json()["csrf_token"]}).status_code == 403


def test_a_bearer_request_is_its_token_never_the_cookie_beside_it(kiosk: tuple[TestClient, World, dict[str, str]]
                                                                 ) -> None:
    client, world, headers = kiosk
    csrf = sign_in(client, "clerk.c1")  # the browser's cookie stays in the client
    text = qr_text(client, world.persons["A1"])
    answer = client.post("/api/checkins", headers=headers, json={"session_id": world.session_id, "credential": text})
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert answer.json()["checkin"]["device_id"] is not None and answer.json()["checkin"]["operator_user_id"] is None
    assert answer.headers["x-content-type-options"] == "nosniff"  # the security headers all the same
    as_cookie = client.get("/api/me", headers={"Authorization": "Bearer not-a-session"})
    assert as_cookie.status_code == 401 and "set-cookie" not in as_cookie.headers  # the cookie was not read
    by_hand = client.post("/api/checkins", headers={"X-CSRF-Token": csrf, "Authorization": "Bearer 1.wrong"},
                          json={"session_id": world.session_id, "hall_id": world.halls["C1"],
                                "person_id": world.persons["A2"]})
    assert by_hand.status_code == 401  # a wrong token is refused, not replaced by the signed-in clerk
    assert client.get("/api/me").status_code == 200  # and the clerk's session is untouched


def attendance_audit(client: TestClient) -> list[AuditEntry]:
    """The audit log's manual attendance changes, oldest first."""
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None
    entries = client.portal.call(svc.conference.store.audit_entries)
    return [e for e in reversed(entries) if e.action is AuditAction.MANUAL_ATTENDANCE]


def test_every_undo_and_absence_is_audited_whichever_entry_point(kiosk: tuple[TestClient, World, dict[str, str]]
                                                                  ) -> None:
    """The API and the hall page record a clerk's undo and absence alike; a kiosk's undo names the kiosk."""
    client, world, kiosk_headers = kiosk
    a1, a2, s = world.persons["A1"], world.persons["A2"], world.session_id
    base = {"session_id": s, "hall_id": world.halls["C1"]}
    h = {"X-CSRF-Token": sign_in(client, "clerk.c1")}
    assert client.post("/api/checkins", headers=h, json=base | {"person_id": a1}).json()["outcome"] == "accepted"
    assert client.post("/api/checkins/undo", headers=h, json=base | {"person_id": a1}).status_code == 200
    assert client.post("/api/absences", headers=h, json=base | {"person_id": a2, "reason": ""}).status_code == 200
    clerk = {e.actor_user_id for e in attendance_audit(client)}
    assert len(clerk) == 1 and None not in clerk
    by_api = [(e.subject, e.detail, e.device_id) for e in attendance_audit(client)]
    assert by_api == [(f"person:{a1}", f"manual check-in session {s}: accepted", None),
                      (f"person:{a1}", f"undo session {s}", None), (f"person:{a2}", f"absent session {s}", None)]
    here = f"/halls/{world.halls['C1']}/sessions/{s}"
    csrf = page_csrf(client.get(here).text)
    for action in ("checkin", "undo"):
        assert client.post(here, data={"csrf": csrf, "action": action, "person_id": str(a1)}).status_code == 200
    client.post(here, data={"csrf": csrf, "action": "absent", "person_id": str(a1), "reason": "Ốm"})
    by_page = [(e.subject, e.detail, e.device_id) for e in attendance_audit(client)][3:]
    assert by_page == [(f"person:{a1}", f"manual check-in session {s}: accepted", None),
                       (f"person:{a1}", f"undo session {s}", None), (f"person:{a1}", f"absent session {s}", None)]
    client.cookies.clear()
    b1 = world.persons["B1"]
    kiosk_scan = scan(client, kiosk_headers, {"session_id": s, "credential": qr_text(client, b1), "nonce": "u-1"})
    assert kiosk_scan["outcome"] == "accepted"
    refused = client.post("/api/checkins/undo", headers=kiosk_headers, json={"session_id": s, "person_id": a1})
    assert refused.status_code == 422 and len(attendance_audit(client)) == 6  # nothing undone, nothing audited
    assert client.post("/api/checkins/undo", headers=kiosk_headers,
                       json={"session_id": s, "person_id": b1}).status_code == 200
    last = attendance_audit(client)[-1]
    assert (last.actor_user_id, last.device_id, last.detail) == (None, world.kiosk_device_id, f"undo session {s}")


def test_offline_upload_and_bundle(kiosk: tuple[TestClient, World, dict[str, str]]) -> None:
    client, world, headers = kiosk
    bundle = client.get("/api/kiosk/bundle", params={"session_id": world.session_id}, headers=headers).json()
    assert {r["full_name"] for r in bundle["roster"]} == {"Nguyễn Văn An", "Trần Thị Bình"}
    assert bundle["public_keys"] and bundle["revoked"] == []
    items = [{"session_id": world.session_id, "credential": qr_text(client, world.persons[p]), "nonce": f"k1-{p}",
              "kiosk_time": "2026-01-01T07:00:00+07:00"} for p in ("A1", "A2")]
    first = client.post("/api/checkins/upload", headers=headers, json={"items": items}).json()["results"]
    assert [r["outcome"] for r in first] == ["accepted", "accepted"]
    assert all(r["checkin"]["review"] == "pending" for r in first)  # outside the window: kept, flagged
    again = client.post("/api/checkins/upload", headers=headers, json={"items": items}).json()["results"]
    assert again == first
    no_nonce = client.post("/api/checkins/upload", headers=headers, json={"items": [{"session_id": 1}]})
    assert no_nonce.status_code == 422


def test_the_openapi_document_lists_every_api_route(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "kiosk" in doc["components"]["securitySchemes"]
    documented = {path for path in doc["paths"]}
    served = {getattr(r, "path", "").replace(":int", "") for r in client.app.routes  # type: ignore[attr-defined]
              if getattr(r, "path", "").startswith("/api/") and r.path != "/api/openapi.json"}  # type: ignore[attr-defined]
    assert served <= documented, served - documented
