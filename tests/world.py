"""A small province for HTTP tests: two districts, a cell in each, a conference with a hall per cell,
one account per role and an enrolled kiosk at the first hall."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from conference.accounts import Role
from conference.conferences import ConferenceMode
from conference.halls import Channel, HallRole, Invitation
from conference.people import new_person
from conference.units import UnitType, new_unit
from web.bootstrap import Services

PASSWORD = "mat-khau-thu-nghiem"


@dataclass
class World:
    units: dict[str, int] = field(default_factory=dict)
    persons: dict[str, int] = field(default_factory=dict)
    conference_id: int = 0
    session_id: int = 0
    halls: dict[str, int] = field(default_factory=dict)
    kiosk_token: str = ""
    kiosk_device_id: int = 0


async def build_world(svc: Services) -> World:
    store = svc.conference.store
    w = World()
    for code, name, kind, parent in [
        ("P", "Đảng bộ tỉnh", UnitType.PROVINCE, None),
        ("D1", "Đảng bộ huyện Một", UnitType.COMMITTEE, "P"),
        ("D2", "Đảng bộ huyện Hai", UnitType.COMMITTEE, "P"),
        ("C1", "Chi bộ thôn Một", UnitType.CELL, "D1"),
        ("C2", "Chi bộ thôn Hai", UnitType.CELL, "D2"),
    ]:
        w.units[code] = (await store.add_unit(new_unit(code, name, kind, w.units.get(parent or "")))).id
    people = [(new_person("A1", "Nguyễn Văn An", w.units["C1"]), "C1"),
              (new_person("A2", "Trần Thị Bình", w.units["C1"]), "C1"),
              (new_person("B1", "Lê Văn Cường", w.units["C2"]), "C2")]
    await store.apply_roster([], [], {}, people, [], {"sha256": "w" * 64, "filename": "world", "user_id": None,
                                                       "imported_at": datetime.now(UTC)})
    w.persons = {code: p.id for code, p in (await store.persons_by_code()).items()}
    svc.conference.forget_units()
    accounts = [("admin", Role.ADMIN, None, None), ("org.p", Role.ORGANISER, "P", None),
                ("org.d1", Role.ORGANISER, "D1", None), ("clerk.c1", Role.HALL_CLERK, "C1", None),
                ("chair.c1", Role.HALL_CHAIR, "C1", None), ("member.a1", Role.PARTICIPANT, None, "A1")]
    for username, role, unit, person in accounts:
        await svc.conference.create_user(None, username, username, role, PASSWORD,
                                         w.units[unit] if unit else None, w.persons[person] if person else None)
    organiser = (await store.user_with_hash("org.p"))
    assert organiser is not None
    org = organiser[0]
    conf = await svc.conference.create_conference(org, "Hội nghị học tập Chuyên đề năm 2026", "Chuyên đề",
                                                  ConferenceMode.PRESENTER, w.units["P"])
    w.conference_id = conf.id
    start = datetime.now(UTC) + timedelta(hours=1)
    w.session_id = (await svc.conference.add_session(org, conf.id, "Buổi sáng", start, start + timedelta(hours=3))).id
    for cell in ("C1", "C2"):
        w.halls[cell] = (await svc.conference.add_hall(org, conf.id, w.units[cell], "", HallRole.PARTICIPATING,
                                                       Channel.IN_PERSON)).id
    await store.invite([Invitation(conf.id, w.persons["A1"], w.halls["C1"]),
                        Invitation(conf.id, w.persons["A2"], w.halls["C1"]),
                        Invitation(conf.id, w.persons["B1"], w.halls["C2"])])
    code, _ = await svc.devices.issue_enrolment_code(w.halls["C1"], org.id)
    device, w.kiosk_token = await svc.devices.enrol(code, "Kiosk hội trường thôn Một")
    w.kiosk_device_id = device.id
    return w


def sign_in(client: TestClient, username: str) -> str:
    """Sign in through the real form; returns the new session's CSRF token for API writes."""
    client.cookies.clear()
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    token: str = client.get("/api/me").json()["csrf_token"]
    assert token != csrf  # signing in starts a new session
    return token
