"""Access-control attacks (issue 13, holes 1, 3, 4, 8, kiosk-supplied fields, audit), each through the real
HTTP or WebSocket interface of the app: the attack is tried and seen refused, and what is allowed still works.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from attendance.face_match import Candidate, Decision, FaceDecision, MatchReason
from conference.accounts import Role
from conference.audit import AuditAction
from conference.conferences import ConferenceMode
from conference.halls import Channel, HallRole, Invitation
from tests.test_badges import decode_png
from tests.test_checkin_api import qr_text
from tests.test_live import hello, ticket
from tests.test_media_signalling import offer, reply
from tests.test_reports import call
from tests.test_reports import services_of as services
from tests.world import PASSWORD, World, sign_in
from web.usecases.checkin import Actor


def audited(client: TestClient, action: AuditAction) -> list[Any]:
    entries = call(client, services(client).conference.store.audit_entries, 500)
    return [e for e in entries if e.action is action]


# -- hole 1: taking over a broadcast -----------------------------------------------------------------
def test_only_assigned_presenters_and_the_conferences_organisers_publish(world_client: tuple[TestClient, World]
                                                                         ) -> None:
    client, world = world_client
    svc, sid = services(client), world.session_id

    async def presenters() -> list[int]:
        return [(await svc.conference.create_user(None, name, name, Role.PRESENTER, PASSWORD, world.units["P"])).id
                for name in ("presenter.p", "presenter.q", "presenter.x")]

    p, q, _ = call(client, presenters)
    csrf = {"X-CSRF-Token": sign_in(client, "org.d1")}  # a district organiser assigns no one to the province's
    assert client.post(f"/api/sessions/{sid}/presenters", json={"user_id": p}, headers=csrf).status_code == 403
    csrf = {"X-CSRF-Token": sign_in(client, "org.p")}
    for presenter in (p, q):
        assert client.post(f"/api/sessions/{sid}/presenters", json={"user_id": presenter},
                           headers=csrf).status_code == 201
    publish = offer("publish")

    def try_publish(username: str) -> dict[str, Any]:
        with client.websocket_connect("/ws") as ws:
            hello(ws, ticket(client, username))
            ws.send_json({"type": "rtc_offer", "session": sid, "role": "publish", "sdp": publish, "ref": username})
            return reply(ws)

    # a district organiser over the province's session, a presenter not assigned to it
    for attacker in ("org.d1", "presenter.x"):
        refused = try_publish(attacker)
        assert refused["type"] == "rtc_error" and refused["code"] == "forbidden", attacker
        assert client.get(f"/sessions/{sid}/present").status_code == 403
        assert client.get(f"/api/sessions/{sid}/media").json()["may_publish"] is False

    with client.websocket_connect("/ws") as live:
        hello(live, ticket(client, "presenter.p"))
        live.send_json({"type": "rtc_offer", "session": sid, "role": "publish", "sdp": publish, "ref": "p"})
        assert reply(live)["type"] == "rtc_answer"
        # another assigned presenter does not replace the one on air
        refused = try_publish("presenter.q")
        assert refused["type"] == "rtc_error" and refused["code"] == "forbidden"
        assert not audited(client, AuditAction.BROADCAST_TAKEOVER)
        # the conference's organiser does, and it is audited
        assert try_publish("org.p")["type"] == "rtc_answer"
        takeovers = audited(client, AuditAction.BROADCAST_TAKEOVER)
        assert [t.subject for t in takeovers] == [f"session:{sid}"]
    sign_in(client, "presenter.p")
    assert client.get(f"/api/sessions/{sid}/media").json()["may_publish"] is True


# -- holes 3 and 4: a hall's clerk or kiosk acts only on the hall's list, and refusals name no one ------------
def test_a_clerk_acts_only_on_the_halls_list_and_never_on_another_halls_record(
        world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    svc, sid, c1, c2 = services(client), world.session_id, world.halls["C1"], world.halls["C2"]
    call(client, svc.conference.create_user, None, "clerk.p", "clerk.p", Role.HALL_CLERK, PASSWORD, world.units["P"])
    csrf = sign_in(client, "clerk.c1")
    headers = {"X-CSRF-Token": csrf}
    stranger = world.persons["B1"]  # invited to the other hall
    for path, body in [("/api/checkins", {"session_id": sid, "hall_id": c1, "person_id": stranger}),
                       ("/api/absences", {"session_id": sid, "hall_id": c1, "person_id": stranger, "reason": "ốm"})]:
        refused = client.post(path, json=body, headers=headers)
        assert refused.status_code == 403, (path, refused.text)
        assert "Cường" not in refused.text
    unknown = client.post("/api/checkins", json={"session_id": sid, "hall_id": c1, "person_id": 999_999},
                          headers=headers)
    assert unknown.status_code == 404
    assert call(client, svc.ledger.current, sid, stranger) is None  # nothing was written

    # An (invited at C1) arrives at the other hall with their QR: a clerk of C1 may not overwrite that record
    own = world.persons["A1"]
    csrf_p = sign_in(client, "clerk.p")
    there = client.post("/api/checkins", json={"session_id": sid, "hall_id": c2, "credential": qr_text(client, own)},
                        headers={"X-CSRF-Token": csrf_p})
    assert there.json()["outcome"] == "accepted", there.text
    csrf = sign_in(client, "clerk.c1")
    for path, body in [("/api/absences", {"session_id": sid, "hall_id": c1, "person_id": own, "reason": ""}),
                       ("/api/checkins/undo", {"session_id": sid, "hall_id": c1, "person_id": own})]:
        assert client.post(path, json=body, headers={"X-CSRF-Token": csrf}).status_code == 403, path
    record = call(client, svc.ledger.current, sid, own)
    assert record is not None and record.hall_id == c2 and record.present
    # the hall's own people: by hand, absent, undone, as before
    other = world.persons["A2"]
    assert client.post("/api/checkins", json={"session_id": sid, "hall_id": c1, "person_id": other},
                       headers={"X-CSRF-Token": csrf}).json()["outcome"] == "accepted"
    assert client.post("/api/checkins/undo", json={"session_id": sid, "hall_id": c1, "person_id": other},
                       headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.post("/api/absences", json={"session_id": sid, "hall_id": c1, "person_id": other, "reason": "ốm"},
                       headers={"X-CSRF-Token": csrf}).status_code == 200


def test_a_kiosk_cannot_walk_person_ids_to_collect_names(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sid, kiosk = world.session_id, {"Authorization": f"Bearer {world.kiosk_token}"}
    names = {"Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"}
    for person in [*world.persons.values(), 999_999]:
        answer = client.post("/api/checkins", json={"session_id": sid, "person_id": person, "nonce": f"walk-{person}"},
                             headers=kiosk)
        if person in (world.persons["A1"], world.persons["A2"]):
            assert answer.json()["outcome"] == "accepted"  # the hall's own invitees
            continue
        assert answer.status_code in (403, 404) and not any(name in answer.text for name in names), answer.text
    assert client.post("/api/checkins", json={"session_id": sid, "person_id": 999_999},
                       headers=kiosk).status_code == 404
    # nor through an offline queue: a pick by hand of someone of another hall is kept for review, unnamed
    offline = client.post("/api/checkins/upload", headers=kiosk, json={"items": [
        {"session_id": sid, "person_id": world.persons["B1"], "nonce": "offline-walk"}]})
    assert offline.status_code == 200 and "Cường" not in offline.text
    assert offline.json()["results"][0]["person"] is None
    # a refused scan (a revoked card of someone at this hall) shows no card either
    old = qr_text(client, world.persons["A2"])
    csrf = sign_in(client, "org.p")
    assert client.post(f"/api/persons/{world.persons['A2']}/credential",
                       headers={"X-CSRF-Token": csrf}).status_code == 201
    refused = client.post("/api/checkins", json={"session_id": sid, "credential": old}, headers=kiosk)
    assert refused.json()["outcome"] == "refused" and refused.json()["person"] is None
    assert "Bình" not in refused.text


# -- hole 8: QR credentials for one conference and its dates; QR fetch and badges for those who hand out cards --
def test_a_card_is_good_for_its_conference_and_dates_only_and_fetching_it_is_limited_and_audited(
        world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    svc, a1 = services(client), world.persons["A1"]
    sign_in(client, "member.a1")
    [text] = decode_png(client.get(f"/api/persons/{a1}/qr.png").content)

    async def another_conference() -> tuple[int, str, datetime]:
        org = await svc.conference.store.user_with_hash("org.p")
        assert org is not None
        conf = await svc.conference.create_conference(org[0], "Hội nghị khác", "Khác", ConferenceMode.PRESENTER,
                                                      world.units["P"])
        start = datetime.now(UTC) + timedelta(minutes=30)
        session = await svc.conference.add_session(org[0], conf.id, "Buổi khác", start, start + timedelta(hours=2))
        hall = await svc.conference.add_hall(org[0], conf.id, world.units["C1"], "", HallRole.PARTICIPATING,
                                             Channel.IN_PERSON)
        await svc.conference.store.invite([Invitation(conf.id, a1, hall.id)])
        code, _ = await svc.devices.issue_enrolment_code(hall.id, org[0].id)
        _, token = await svc.devices.enrol(code, "Kiosk khác")
        first = await svc.conference.store.sessions_of(world.conference_id)
        return session.id, token, max(s.checkin_closes_at for s in first)

    other_session, other_kiosk, closes = call(client, another_conference)
    replayed = client.post("/api/checkins", json={"session_id": other_session, "credential": text},
                           headers={"Authorization": f"Bearer {other_kiosk}"})
    assert replayed.json()["outcome"] == "refused" and replayed.json()["reason"] == "wrong_conference"
    [cred] = [c for c in call(client, svc.credentials.store.credentials_of, [a1]) if c.revoked_at is None]
    assert cred.conference_id == world.conference_id and cred.valid_until <= closes
    here = client.post("/api/checkins", json={"session_id": world.session_id, "credential": text},
                       headers={"Authorization": f"Bearer {world.kiosk_token}"})
    assert here.json()["outcome"] == "accepted"

    # a hall chair sees the hall's people but does not hand out cards; a clerk does, and it is audited
    csrf = sign_in(client, "chair.c1")
    assert client.get(f"/api/persons/{a1}/qr.png").status_code == 403
    assert client.get(f"/api/persons/{a1}/qr.svg").status_code == 403
    assert client.post(f"/halls/{world.halls['C1']}/badges", data={"csrf": csrf}).status_code == 403
    assert not audited(client, AuditAction.VIEW_CREDENTIAL)
    sign_in(client, "clerk.c1")
    assert client.get(f"/api/persons/{a1}/qr.svg").status_code == 200
    assert [e.subject for e in audited(client, AuditAction.VIEW_CREDENTIAL)] == [f"person:{a1}"]


# -- also: audit of kiosk enrolment codes, enrolments, revocations, and of manual check-ins and undo ----------
def test_kiosk_enrolment_revocation_and_manual_attendance_are_audited(world_client: tuple[TestClient, World]
                                                                      ) -> None:
    client, world = world_client
    c1, sid, a2 = world.halls["C1"], world.session_id, world.persons["A2"]
    seen = {(e.at, e.subject) for e in audited(client, AuditAction.DEVICE_CHANGE)}
    csrf = {"X-CSRF-Token": sign_in(client, "clerk.c1")}
    code = client.post(f"/api/halls/{c1}/enrolment-codes", headers=csrf).json()["code"]
    enrolled = client.post("/api/devices/enrol", json={"code": code, "name": "Máy tính bảng"}).json()
    assert client.post(f"/api/devices/{enrolled['device_id']}/revoke", headers=csrf).status_code == 200
    changes = [e for e in audited(client, AuditAction.DEVICE_CHANGE) if (e.at, e.subject) not in seen]
    assert {(e.subject, e.device_id or 0) for e in changes} == {
        (f"hall:{c1}", 0), (f"hall:{c1}", enrolled["device_id"]),
        (f"device:{enrolled['device_id']}", enrolled["device_id"])}
    clerk = next(e.actor_user_id for e in changes if e.subject == f"hall:{c1}" and e.device_id is None)
    assert clerk is not None and all(e.actor_user_id == clerk for e in changes if e.subject.startswith("device:"))

    assert client.post("/api/checkins", json={"session_id": sid, "hall_id": c1, "person_id": a2},
                       headers=csrf).json()["outcome"] == "accepted"
    assert client.post("/api/checkins/undo", json={"session_id": sid, "hall_id": c1, "person_id": a2},
                       headers=csrf).status_code == 200
    manual = audited(client, AuditAction.MANUAL_ATTENDANCE)
    assert {e.subject for e in manual} == {f"person:{a2}"} and len(manual) == 2
    assert any("manual check-in" in e.detail for e in manual) and any("undo" in e.detail for e in manual)


# -- also: kiosk-supplied face fields -----------------------------------------------------------------------------
def test_a_kiosk_cannot_claim_a_face_check_in_or_its_score(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    svc, sid, a1, a2 = services(client), world.session_id, world.persons["A1"], world.persons["A2"]
    kiosk = {"Authorization": f"Bearer {world.kiosk_token}"}
    claims: list[tuple[dict[str, Any], str]] = [
        ({"method": "face", "face_score": 0.01}, "face_score"), ({"method": "face"}, "method"),
        ({"face_score": 0.01}, "face_score"), ({"method": "face", "face_decision": "forged.token"}, "face_decision")]
    for claim, refused_field in claims:
        answer = client.post("/api/checkins", json={"session_id": sid, "person_id": a1} | claim, headers=kiosk)
        assert answer.status_code == 422 and answer.json()["field"] == refused_field, (claim, answer.text)
    assert call(client, svc.ledger.current, sid, a1) is None

    # the face service's own decision (as the face API and the camera socket hand it to this kiosk) is taken
    device = call(client, svc.devices.device, world.kiosk_device_id)
    decision = FaceDecision(Decision.CONFIRM, MatchReason.BORDERLINE, Candidate(a1, 0.58), None)
    sealed = svc.checkins.face_decisions.seal(Actor(device, None), sid, decision)
    assert sealed is not None
    for other in ({"person_id": a2}, {"session_id": sid + 1}):  # not for another person or session
        answer = client.post("/api/checkins", json={"session_id": sid, "person_id": a1, "method": "face",
                                                    "face_decision": sealed} | other, headers=kiosk)
        assert answer.status_code in (404, 422), answer.text
    taken = client.post("/api/checkins", json={"session_id": sid, "person_id": a1, "method": "face",
                                               "face_decision": sealed}, headers=kiosk).json()
    assert taken["outcome"] == "accepted" and taken["checkin"]["method"] == "face"
    assert taken["checkin"]["face_score"] == 0.58
