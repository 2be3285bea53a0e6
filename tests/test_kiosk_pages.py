"""The kiosk's page and session list, and the hall's kiosk list where staff make enrolment codes."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.world import World, sign_in


def test_the_kiosk_lists_its_halls_sessions_and_serves_its_page(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    answer = client.get("/api/kiosk/sessions", headers={"Authorization": f"Bearer {world.kiosk_token}"})
    assert answer.status_code == 200
    data = answer.json()
    assert data["hall"]["id"] == world.halls["C1"] and data["conference"]["id"] == world.conference_id
    [session] = data["sessions"]
    assert session["id"] == world.session_id and session["title"] == "Buổi sáng" and session["checkin_open"]
    assert client.get("/api/kiosk/sessions").status_code == 401
    assert client.get("/api/kiosk/sessions", headers={"Authorization": "Bearer 1.wrong"}).status_code == 401
    page = client.get("/kiosk")
    assert page.status_code == 200 and 'id="kiosk-config"' in page.text and "Đăng ký máy điểm danh" in page.text


def test_a_hall_clerk_makes_a_code_that_enrols_a_kiosk_and_revokes_it(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "clerk.c1")
    here = f"/halls/{world.halls['C1']}/kiosks"
    page = client.get(here)
    assert page.status_code == 200 and "Kiosk hội trường thôn Một" in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    made = client.post(here, data={"csrf": csrf, "action": "code"})
    code = made.text.split('id="enrolment-code">', 1)[1].split("<", 1)[0]
    assert "/kiosk" in made.text and len(code) >= 6
    enrolled = client.post("/api/devices/enrol", json={"code": code, "name": "Máy cửa phụ"})
    assert enrolled.status_code == 201 and enrolled.json()["hall_id"] == world.halls["C1"]
    token = enrolled.json()["token"]
    device_id = enrolled.json()["device_id"]
    assert client.get("/api/kiosk/sessions", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    client.post(here, data={"csrf": csrf, "action": "revoke", "device_id": str(device_id)})
    assert client.get("/api/kiosk/sessions", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "Đã thu hồi" in client.get(here).text
    assert client.get(f"/halls/{world.halls['C2']}/kiosks").status_code == 403  # another district's hall
    sign_in(client, "chair.c1")
    assert client.get(here).status_code == 403  # a hall chair does not manage devices
