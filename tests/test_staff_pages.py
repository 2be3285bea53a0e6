"""The organiser's and the hall clerk's pages through the real app (issue 20): a session's times edited
(API and form, errors on the form in the page's language, the input kept), the hall page and its links,
the hall clerk's list (how many of how many, namesakes told apart, who is already checked in), the
headcount shown as saved or refused on the form, confirmations that say what happened."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import update
from starlette.testclient import TestClient

from conference import tables
from tests.world import World, sign_in


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def alert(html: str) -> str:
    found = re.search(r'role="alert"[^>]*>([^<]*)<', html)
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


def test_the_clerks_menu_leads_to_the_hall_page_and_its_links(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "clerk.c1")
    home = client.get("/conferences")
    assert 'href="/halls" id="nav-halls"' in home.text
    hall = client.get("/halls")  # the clerk's only hall: straight to its page
    assert hall.status_code == 200 and hall.url.path == f"/halls/{world.halls['C1']}"
    for link in (f'href="/halls/{world.halls["C1"]}/sessions/{world.session_id}"',
                 f'href="/halls/{world.halls["C1"]}/kiosks"', f'href="/halls/{world.halls["C1"]}/documents"',
                 f'action="/halls/{world.halls["C1"]}/badges"', f'href="/sessions/{world.session_id}/dashboard'):
        assert link in hall.text, link
    assert client.get(f"/halls/{world.halls['C2']}").status_code == 403  # another hall's page
    sign_in(client, "chair.c1")  # the chair sees the hall but does not enrol kiosks
    chair = client.get(f"/halls/{world.halls['C1']}")
    assert chair.status_code == 200 and 'id="kiosks-link"' not in chair.text
    sign_in(client, "member.a1")
    assert client.get(f"/halls/{world.halls['C1']}").status_code == 403
    assert client.get("/halls").status_code == 403
    sign_in(client, "org.p")
    halls = client.get("/halls")
    assert halls.status_code == 200 and halls.text.count('<a href="/halls/') == 2


def test_the_attendance_list_counts_tells_namesakes_apart_and_says_what_each_action_did(
        world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    here = f"/halls/{world.halls['C1']}/sessions/{world.session_id}"
    sign_in(client, "clerk.c1")
    page = client.get(here)
    assert "Hiển thị 2 / 2 đại biểu" in page.text and "Chi bộ thôn Một" in page.text
    none = client.get(here, params={"q": "khong co ai"})
    assert "Không có đại biểu nào khớp “khong co ai”." in none.text
    csrf = page_csrf(page.text)
    a1, a2 = str(world.persons["A1"]), str(world.persons["A2"])
    done = client.post(here, data={"csrf": csrf, "action": "checkin", "person_id": a1})
    row = done.text.split(f'data-person="{a1}"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r"Đã điểm danh \d\d:\d\d", row) and 'value="checkin"' not in row and 'value="undo"' in row
    asked = client.post(here, data={"csrf": csrf, "action": "absent", "person_id": a2, "reason": " "})
    assert asked.status_code == 422 and alert(asked.text) == "Nhập lý do vắng, hoặc chọn “Vắng không lý do”."
    absent = client.post(here, data={"csrf": csrf, "action": "absent", "person_id": a2, "reason": "Ốm"})
    assert "Đã ghi vắng có lý do: Trần Thị Bình (Ốm)" in absent.text
    undone = client.post(here, data={"csrf": csrf, "action": "undo", "person_id": a2})  # absence by mistake
    assert "Đã hoàn tác: Trần Thị Bình" in undone.text
    row = undone.text.split(f'data-person="{a2}"', 1)[1].split("</tr>", 1)[0]
    assert "Chưa điểm danh" in row
    unexcused = client.post(here, data={"csrf": csrf, "action": "absent_unexcused", "person_id": a2, "reason": "x"})
    assert "Đã ghi vắng không lý do: Trần Thị Bình" in unexcused.text


def test_a_headcount_is_shown_as_saved_and_refused_on_the_form(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    here = f"/halls/{world.halls['C2']}/sessions/{world.session_id}"
    sign_in(client, "admin")
    csrf = page_csrf(client.get(here).text)
    over = client.post(here, data={"csrf": csrf, "action": "headcount", "expected": "1", "present": "3",
                                   "absent_excused": "0", "absent_unexcused": "0"})
    assert over.status_code == 422 and "Số có mặt là số nguyên không âm" in alert(over.text)
    assert 'name="present" type="number" min="0" value="3"' in over.text  # as typed
    assert "English" in over.text and "exceed" not in over.text  # no English error page
    saved = client.post(here, data={"csrf": csrf, "action": "headcount", "expected": "1", "present": "1",
                                    "absent_excused": "0", "absent_unexcused": "0"})
    assert saved.status_code == 200 and "Đã lưu báo cáo số lượng: có mặt 1 / triệu tập 1" in saved.text
    assert "Báo cáo này đang được tính" in saved.text and 'value="1" required' in saved.text
    totals = saved.text.split('id="totals">', 1)[1].split("</p>", 1)[0]
    assert "Có mặt trực tiếp: 1" in totals and totals.endswith("· Báo cáo")
    client.post(here, data={"csrf": csrf, "action": "checkin", "person_id": str(world.persons["B1"])})
    counted = client.get(here).text
    assert "không được tính vì điểm cầu đã điểm danh từng người" in counted


def test_the_list_counts_the_invited_and_says_who_is_not_expected(world_client: tuple[TestClient, World]) -> None:
    """1.000 listed but 981 expected: the list says the difference is the members exempt from party activities,
    and its expected figure is the one the dashboard and the reports count."""
    client, world = world_client

    async def exempt(person_id: int) -> None:
        async with client.app.state.services.engine.begin() as c:  # type: ignore[attr-defined]
            await c.execute(update(tables.persons).where(tables.persons.c.id == person_id).values(exempt=True))

    assert client.portal is not None
    client.portal.call(exempt, world.persons["A2"])
    sign_in(client, "clerk.c1")
    page = client.get(f"/halls/{world.halls['C1']}/sessions/{world.session_id}").text
    assert "Triệu tập: 1 " in page
    assert "Hiển thị 2 / 2 đại biểu (gồm 1 người miễn sinh hoạt, không tính vào số triệu tập)" in page
    row = page.split(f'data-person="{world.persons["A2"]}"', 1)[1].split("</tr>", 1)[0]
    assert "Miễn sinh hoạt" in row


def test_a_kiosk_search_tells_namesakes_apart_and_says_who_is_already_in(
        world_client: tuple[TestClient, World]) -> None:
    client, world = world_client

    async def namesake() -> None:  # A2 takes A1's name: only the member code tells them apart (same cell)
        async with client.app.state.services.engine.begin() as c:  # type: ignore[attr-defined]
            await c.execute(update(tables.persons).where(tables.persons.c.id == world.persons["A2"])
                            .values(full_name="Nguyễn Văn An", search_key="nguyen van an"))

    assert client.portal is not None
    client.portal.call(namesake)
    kiosk = {"Authorization": f"Bearer {world.kiosk_token}"}
    url = f"/api/kiosk/halls/{world.halls['C1']}"
    scan = client.post("/api/checkins", headers=kiosk,
                       json={"session_id": world.session_id, "person_id": world.persons["A1"], "nonce": "n-1"})
    assert scan.json()["outcome"] == "accepted", scan.text
    found = client.get(url, headers=kiosk, params={"q": "nguyen van an", "session_id": world.session_id}).json()
    people = {p["id"]: p for p in found["people"]}
    assert set(people) == {world.persons["A1"], world.persons["A2"]}
    assert people[world.persons["A1"]]["detail"] == "Chi bộ thôn Một · A1"
    assert people[world.persons["A2"]]["detail"] == "Chi bộ thôn Một · A2"
    assert people[world.persons["A1"]]["checked_in_at"] and people[world.persons["A2"]]["checked_in_at"] is None
    without = client.get(url, headers=kiosk, params={"q": "nguyen van an"}).json()["people"]
    assert all(p["checked_in_at"] is None for p in without)  # no session named: nothing about check-ins
    assert client.get(url, headers=kiosk, params={"session_id": 999}).status_code == 404


def test_a_new_session_refused_says_why_on_its_form_with_the_input_kept(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    here = f"/conferences/{world.conference_id}"
    refused = client.post(here, data={"csrf": page_csrf(client.get(here).text), "what": "session", "title": "Sai giờ",
                                      "starts_at": "2026-12-01T17:00", "ends_at": "2026-12-01T13:00",
                                      "late_after_minutes": "10"})
    assert refused.status_code == 422
    form = refused.text.split('id="new-session"', 1)[1].split("</form>", 1)[0]
    assert alert(form) == "Giờ kết thúc phải sau giờ bắt đầu."
    assert 'value="Sai giờ"' in form and 'value="2026-12-01T17:00"' in form and 'value="10"' in form
    assert refused.text.count('role="alert"') == 1  # not again at the top in English
