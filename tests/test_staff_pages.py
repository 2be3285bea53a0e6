"""The organiser's and the hall clerk's pages through the real app (issue 20): a session's times edited
(API and form, errors on the form in the page's language, the input kept), the hall page and its links,
the hall clerk's list (how many of how many, namesakes told apart, who is already checked in), the
headcount shown as saved or refused on the form, confirmations that say what happened."""

from __future__ import annotations

import re
from datetime import datetime

from starlette.testclient import TestClient

from tests.world import World, sign_in


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def alert(html: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', html)
    return found.group(1) if found else ""


def test_an_organiser_moves_a_session_by_the_api_and_others_may_not(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    url = f"/api/sessions/{world.session_id}"
    times = {"starts_at": "2026-12-01T07:30:00+07:00", "ends_at": "2026-12-01T11:30:00+07:00"}
    for who in ("clerk.c1", "org.d1", "member.a1"):  # the district's organiser is outside the conference's unit
        token = sign_in(client, who)
        assert client.patch(url, json=times, headers={"X-CSRF-Token": token}).status_code == 403, who
    token = sign_in(client, "org.p")
    moved = client.patch(url, json=times, headers={"X-CSRF-Token": token})
    assert moved.status_code == 200, moved.text
    body = moved.json()  # the window kept its distances: an hour before the start, closing at the end
    assert at(body["checkin_opens_at"]) == at("2026-12-01T06:30:00+07:00")
    assert at(body["checkin_closes_at"]) == at(times["ends_at"])
    early = client.patch(url, headers={"X-CSRF-Token": token},
                         json={**times, "checkin_opens_at": "2026-11-30T07:00:00+07:00"})
    assert early.status_code == 422 and early.json()["field"] == "checkin_opens_at"
    backwards = client.patch(url, headers={"X-CSRF-Token": token},
                             json={"starts_at": times["ends_at"], "ends_at": times["starts_at"]})
    assert backwards.status_code == 422 and backwards.json()["field"] == "ends_at"
    [stored] = client.get(f"/api/conferences/{world.conference_id}/sessions").json()
    assert at(stored["starts_at"]) == at(times["starts_at"])  # nothing refused was written


def test_the_session_form_says_what_is_wrong_in_the_page_language_and_keeps_the_input(
        world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    here = f"/conferences/{world.conference_id}"
    page = client.get(here).text
    form = {"csrf": page_csrf(page), "what": "edit_session", "session_id": str(world.session_id),
            "starts_at": "2026-12-01T07:30", "ends_at": "2026-12-01T11:30", "checkin_opens_at": "2026-12-01T08:00",
            "checkin_closes_at": "2026-12-01T11:30", "late_after_minutes": "20"}
    refused = client.post(here, data=form)
    assert refused.status_code == 422
    assert alert(refused.text) == "Điểm danh phải mở trước giờ bắt đầu, sớm nhất 12 giờ trước."
    assert 'value="2026-12-01T08:00"' in refused.text and 'value="20"' in refused.text  # as typed
    assert "<details class=\"session-edit\" open>" in refused.text
    client.get("/lang/en", params={"next": here})
    english = client.post(here, data={**form, "ends_at": "2026-12-01T07:00"})
    assert alert(english.text) == "The session must end after it starts."
    client.get("/lang/vi", params={"next": here})
    saved = client.post(here, data={**form, "checkin_opens_at": "2026-12-01T06:45"})
    assert saved.status_code == 200 and saved.url.path == here
    assert "Đã lưu giờ của phiên: Buổi sáng" in saved.text and "01/12/2026 06:45 – 01/12/2026 11:30" in saved.text
