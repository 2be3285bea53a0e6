"""The HTML pages through the real app: roster upload, people search, participant home, language."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests.world import World, sign_in

GOOD = "Mã,Họ và tên,Mã đơn vị,Chức vụ\nN1,Phạm Thị Hoa,C1,Đảng viên\nN2,Võ Văn Tám,C1,\n"
BAD = "Mã,Họ và tên,Mã đơn vị\nX1,,C1\nX2,Hồ Văn Ba,KHONGCO\nX3,Lý Thị Tư,C1\n"


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def upload(client: TestClient, name: str, content: str) -> tuple[int, str]:
    csrf = page_csrf(client.get("/roster/import").text)
    response = client.post("/roster/import", data={"csrf": csrf},
                           files={"files": (name, content.encode(), "text/csv")})
    return response.status_code, response.text


def test_roster_upload_imports_refuses_bad_rows_and_respects_scope(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.d1")
    status, html = upload(client, "bad.csv", BAD)
    assert status == 422 and "Tệp bị từ chối, không có gì thay đổi" in html
    assert html.count("<li>") >= 2 and "dòng 2" in html and "dòng 3" in html and "dòng 4" not in html
    status, html = upload(client, "nguoi.csv", GOOD)
    assert status == 200 and "2 đảng viên mới" in html
    status, html = upload(client, "nguoi.csv", GOOD)
    assert status == 200 and "Không có thay đổi" in html
    people = client.get(f"/units/{world.units['C1']}/people", params={"q": "pham thi hoa"}).text
    assert "Phạm Thị Hoa" in people
    status, _ = upload(client, "khac.csv", "Mã,Họ và tên,Mã đơn vị\nZ1,Người Khác,C2\n")
    assert status == 403  # C2 lies in another district


def test_participants_cannot_import_and_see_their_conference(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    sign_in(client, "member.a1")
    assert client.get("/roster/import").status_code == 403
    home = client.get("/")
    assert home.url.path == "/me" and "Hội nghị học tập Chuyên đề năm 2026" in home.text
    assert "Buổi sáng" in home.text


def test_people_page_escapes_names_and_switches_language(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    status, _ = upload(client, "x.csv", 'Mã,Họ và tên,Mã đơn vị\nJ1,"<script>alert(1)</script>",C2\n')
    assert status == 200
    html = client.get(f"/units/{world.units['C2']}/people").text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    english = client.get("/lang/en", params={"next": f"/units/{world.units['C2']}/people"})
    assert english.url.path.endswith("/people") and "Members" in english.text and 'lang="en"' in english.text
    assert client.get("/lang/en", params={"next": "//evil.example/"}, follow_redirects=False).headers["location"] == "/"


def test_sign_in_page_refuses_wrong_password_and_logout_needs_csrf(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    csrf = page_csrf(client.get("/login").text)
    wrong = client.post("/login", data={"username": "org.p", "password": "sai", "csrf": csrf})
    assert wrong.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in wrong.text
    sign_in(client, "org.p")
    assert client.post("/logout", data={}).status_code == 403
    csrf = page_csrf(client.get("/conferences").text)
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).headers["location"] == "/login"
    assert client.get("/conferences", follow_redirects=False).status_code == 303


def test_organiser_adds_a_session_and_a_hall_through_the_forms(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    page = client.get(f"/conferences/{world.conference_id}").text
    assert f'<option value="{world.units["D2"]}">D2 · Đảng bộ huyện Hai</option>' in page
    assert f'<option value="{world.units["C1"]}">' not in page  # C1 already hosts a hall
    csrf = page_csrf(page)
    added = client.post(f"/conferences/{world.conference_id}", data={
        "csrf": csrf, "what": "session", "title": "Buổi chiều", "starts_at": "2026-12-01T13:30",
        "ends_at": "2026-12-01T17:00", "late_after_minutes": "10"})
    assert added.status_code == 200 and "01/12/2026 13:30" in added.text and "01/12/2026 12:30" in added.text
    hall = client.post(f"/conferences/{world.conference_id}", data={
        "csrf": csrf, "what": "hall", "unit_id": str(world.units["D2"]), "name": "", "role": "participating",
        "channel": "two_way", "chair": "Bí thư Huyện ủy", "technical_contact": ""})
    assert hall.status_code == 200 and "Đảng bộ huyện Hai" in hall.text and "Hai chiều" in hall.text
    bad = client.post(f"/conferences/{world.conference_id}", data={
        "csrf": csrf, "what": "session", "title": "Sai giờ", "starts_at": "2026-12-01T17:00",
        "ends_at": "2026-12-01T13:00", "late_after_minutes": "10"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text


def test_hall_operator_checks_in_by_hand_marks_absence_and_undoes(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "clerk.c1")
    here = f"/halls/{world.halls['C1']}/sessions/{world.session_id}"
    page = client.get(here, params={"q": "nguyen van an"})
    assert page.status_code == 200 and "Nguyễn Văn An" in page.text and "Trần Thị Bình" not in page.text
    csrf = page_csrf(page.text)
    done = client.post(here, data={"csrf": csrf, "action": "checkin", "person_id": str(world.persons["A1"]), "q": ""})
    assert "Xin chào Nguyễn Văn An" in done.text and "Có mặt trực tiếp" in done.text
    again = client.post(here, data={"csrf": csrf, "action": "checkin", "person_id": str(world.persons["A1"])})
    assert "Đã điểm danh lúc" in again.text
    absent = client.post(here, data={"csrf": csrf, "action": "absent", "person_id": str(world.persons["A2"]),
                                     "reason": "Đi công tác"})
    assert "Vắng có lý do" in absent.text and "Đi công tác" in absent.text
    undone = client.post(here, data={"csrf": csrf, "action": "undo", "person_id": str(world.persons["A1"])})
    assert undone.status_code == 200
    totals = undone.text.split('id="totals">', 1)[1].split("</p>", 1)[0]
    assert "Có mặt trực tiếp: 0" in totals and "Vắng có lý do: 1" in totals
    assert client.get(f"/halls/{world.halls['C2']}/sessions/{world.session_id}").status_code == 403
    sign_in(client, "chair.c1")  # the chair sees the hall's attendance but the clerk records it
    page = client.get(here)
    assert page.status_code == 200 and 'value="checkin"' not in page.text
    refused = client.post(here, data={"csrf": page_csrf(page.text), "action": "checkin", "person_id": "1"})
    assert refused.status_code == 403 and "không có quyền" in refused.text
