"""The pages' forms and filters decode through web/http/decoding (bad values answer 422 naming the field,
never a 500), and what the routes used to read from the store comes from a service method that checks
who may read it: the halls a unit may still host, a hall with its conference, a kiosk's programme."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from conference.accounts import Action
from conference.errors import Forbidden
from tests.test_feedback import services_of
from tests.test_pages import page_csrf
from tests.world import World, sign_in


def test_conference_form_names_the_bad_field(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    here = f"/conferences/{world.conference_id}"
    csrf = page_csrf(client.get(here).text)
    hall = {"csrf": csrf, "what": "hall", "unit_id": str(world.units["D2"]), "name": "", "role": "participating",
            "channel": "two_way", "chair": "", "technical_contact": ""}
    bad_role = client.post(here, data={**hall, "role": "guest_of_honour"})
    assert bad_role.status_code == 422 and "role must be one of" in bad_role.text
    bad_channel = client.post(here, data={**hall, "channel": "pigeon"})
    assert bad_channel.status_code == 422 and "channel must be one of" in bad_channel.text
    nul = client.post(here, data={**hall, "chair": "Bí thư\x00"})
    assert nul.status_code == 422 and "chair must not contain NUL" in nul.text
    mode = client.post("/conferences", data={"csrf": csrf, "title": "Hội nghị", "topic": "", "mode": "opera"})
    assert mode.status_code == 422 and "mode must be one of" in mode.text
    people = f"/units/{world.units['P']}/people"
    assert client.get(people, params={"page": "two"}).status_code == 422
    assert client.get(people, params={"page": "2"}).status_code == 200


def test_feedback_filters_and_forms_name_the_bad_field(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    assert client.get("/feedback", params={"state": "new"}).status_code == 200
    for params in ({"state": "lost"}, {"kind": "rumour"}, {"unit": "P"}, {"conference": "1.5"}):
        answer = client.get("/api/feedback", params=params)
        assert answer.status_code == 422 and answer.json()["field"] == next(iter(params)), params
    sign_in(client, "member.a1")
    csrf = page_csrf(client.get("/me/feedback").text)
    sent = client.post("/me/feedback", data={"csrf": csrf, "kind": "proposal", "content": "Xin gửi tài liệu sớm",
                                             "conference_id": str(world.conference_id)}, follow_redirects=False)
    assert sent.status_code == 303
    for bad, field in (({"kind": "rumour"}, "kind"), ({"conference_id": "một"}, "conference_id")):
        form = {"csrf": csrf, "kind": "opinion", "content": "Ý kiến", **bad}
        refused = client.post("/me/feedback", data=form)
        # said on the form, beside the field, in the page's language (test_journeys_member_presenter: kept)
        assert refused.status_code == 422 and f'id="fb-error" data-field="{field}"' in refused.text


def test_document_form_names_the_bad_field(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    here = f"/conferences/{world.conference_id}/documents"
    csrf = page_csrf(client.get(here).text)
    pdf = ("nghi-quyet.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf")
    for bad, message in (({"issued_on": "31/02/2026"}, "issued_on must be a date"),
                         ({"issued_on": "0999-01-01"}, "issued_on must be in the years"),
                         ({"access": "secret"}, "access must be one of")):
        refused = client.post(here, data={"csrf": csrf, "title": "Nghị quyết", **bad}, files={"file": pdf})
        assert refused.status_code == 422 and message in refused.text, bad
    assert client.get(here).text.count("nghi-quyet") == 0  # nothing was stored


def test_hall_candidates_are_the_actors_units_hosting_no_hall(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    svc = services_of(client).conference
    call = client.portal.call  # type: ignore[union-attr]
    admin, org_d1, clerk = (call(svc.store.user_with_hash, name)[0] for name in ("admin", "org.d1", "clerk.c1"))
    everywhere = [u.id for u in call(svc.hall_candidates, admin, world.conference_id)]
    assert sorted(everywhere) == sorted(world.units[c] for c in ("P", "D1", "D2"))  # C1 and C2 host halls
    assert [u.id for u in call(svc.hall_candidates, org_d1, world.conference_id)] == [world.units["D1"]]
    hall, conf = call(svc.hall_and_conference, clerk, world.halls["C1"], Action.VIEW_ATTENDANCE)
    assert (hall.id, conf.id) == (world.halls["C1"], world.conference_id)
    with pytest.raises(Forbidden):
        call(svc.hall_and_conference, clerk, world.halls["C2"], Action.VIEW_ATTENDANCE)


def test_a_kiosk_gets_its_programme_earliest_first(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    svc = services_of(client).conference
    call = client.portal.call  # type: ignore[union-attr]
    org = call(svc.store.user_with_hash, "org.p")[0]
    _, morning = call(svc.session, org, world.session_id)
    call(svc.add_session, org, world.conference_id, "Buổi chiều", morning.starts_at + timedelta(hours=5),
         morning.starts_at + timedelta(hours=8))
    call(svc.add_session, org, world.conference_id, "Buổi tối hôm trước", morning.starts_at - timedelta(days=1),
         morning.starts_at - timedelta(days=1) + timedelta(hours=2))
    answer = client.get("/api/kiosk/sessions", headers={"Authorization": f"Bearer {world.kiosk_token}"}).json()
    assert [s["title"] for s in answer["sessions"]] == ["Buổi tối hôm trước", "Buổi sáng", "Buổi chiều"]
    assert answer["hall"]["id"] == world.halls["C1"] and answer["conference"]["id"] == world.conference_id
    assert [s["checkin_open"] for s in answer["sessions"]] == [False, True, False]
