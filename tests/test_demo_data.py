"""The demo province: pure checks of its shape, and a small seed into SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from conference import tables as t
from conference.accounts import Role
from conference.conferences import ConferenceMode, check_window
from conference.errors import Conflict
from conference.halls import Channel, HallRole
from conference.passwords import Passwords
from conference.people import MemberType
from conference.service import ConferenceService
from conference.store import ConferenceStore
from conference.text import fold
from conference.units import UnitTree, UnitType
from web.demo.accounts import account_plan, banner
from web.demo.province import DEMO_PASSWORD, DemoProvince, demo_sessions, province
from web.demo.seeding import is_seeded, keep_open, seed

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 5, 4, 9, 15, tzinfo=ZONE)
SMALL = 2000


@pytest.fixture(scope="module")
def demo() -> DemoProvince:
    return province()


def test_unit_tree_has_the_expected_shape(demo: DemoProvince) -> None:
    types = Counter(u.type for u in demo.units)
    assert types[UnitType.PROVINCE] == 1
    assert types[UnitType.COMMITTEE] == 11
    committees = demo.units_of(UnitType.COMMITTEE)
    districts = [u for u in committees if u.name.startswith(("Đảng bộ huyện", "Đảng bộ thị xã", "Đảng bộ thành phố"))]
    assert len(districts) == 8
    blocs = {u.name for u in committees} - {u.name for u in districts}
    assert blocs == {"Đảng bộ Khối các cơ quan tỉnh", "Đảng bộ Khối Doanh nghiệp tỉnh", "Đảng bộ Quân sự tỉnh"}
    assert 90 <= types[UnitType.GRASSROOTS] <= 120
    assert 350 <= types[UnitType.CELL] <= 450
    # every unit's parent is one level up, and codes say where a unit sits
    by_code = {u.code: u for u in demo.units}
    level = {UnitType.PROVINCE: 0, UnitType.COMMITTEE: 1, UnitType.GRASSROOTS: 2, UnitType.CELL: 3}
    for u in demo.units:
        parent = demo.parent_codes[u.code]
        if parent is None:
            assert u.type is UnitType.PROVINCE and u.code == "QT"
        else:
            assert u.code.startswith(parent + ".") and u.code.count(".") == level[u.type]
            assert demo.units.index(by_code[parent]) < demo.units.index(u)  # topological order
    assert by_code["QT.H04"].name == "Đảng bộ huyện Gio Linh"


def test_members_guests_probationary_and_exempt(demo: DemoProvince) -> None:
    assert len(demo.persons) == 70_000
    kinds = Counter(p.member_type for p, _ in demo.persons)
    assert 0.025 <= kinds[MemberType.PROBATIONARY] / 70_000 <= 0.035
    assert 1 <= kinds[MemberType.GUEST] <= 40
    exempt = [p for p, _ in demo.persons if p.exempt]
    assert 0.015 <= len(exempt) / 70_000 <= 0.025
    assert all(p.member_type is not MemberType.GUEST for p in exempt)
    positions = Counter(p.position for p, _ in demo.persons)
    cells = len(demo.units_of(UnitType.CELL))
    assert positions["Bí thư chi bộ"] >= cells and positions["Phó Bí thư chi bộ"] >= cells
    assert positions["Chi ủy viên"] > 0 and positions["Bí thư Tỉnh ủy"] == 1
    assert positions["Bí thư Huyện ủy"] == 6
    # members sit in cells (or in a "chi bộ cơ sở" without cells); guests at the province and committees
    types = {u.code: u.type for u in demo.units}
    for p, unit in demo.persons:
        if p.member_type is MemberType.GUEST:
            assert types[unit] in (UnitType.PROVINCE, UnitType.COMMITTEE)
        else:
            assert types[unit] in (UnitType.CELL, UnitType.GRASSROOTS)


def test_names_are_vietnamese_in_nfc(demo: DemoProvince) -> None:
    names = [p.full_name for p, _ in demo.persons]
    texts = [*names, *(u.name for u in demo.units), *(h.name for h in demo.halls), *(h.chair for h in demo.halls),
             *(p.position for p, _ in demo.persons)]
    assert all(unicodedata.is_normalized("NFC", s) for s in texts)
    assert sum(fold(n) != n.lower() for n in names) / len(names) > 0.9  # with diacritics
    assert all(3 <= len(n.split()) <= 5 for n in names)
    surnames = Counter(n.split()[0] for n in names)
    assert surnames.most_common(1)[0][0] == "Nguyễn"
    assert {"Trần", "Lê", "Phạm", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"} <= set(surnames)
    assert any(" Thị " in n for n in names) and any(" Văn " in n for n in names)
    assert len(set(names)) > 5000


def test_codes_are_unique(demo: DemoProvince) -> None:
    unit_codes = [u.code for u in demo.units]
    person_codes = [p.code for p, _ in demo.persons]
    assert len(set(unit_codes)) == len(unit_codes)
    assert len(set(person_codes)) == len(person_codes)
    assert {"QT", "QT.H01", "QT.H01.X01", "QT.H01.X01.C01"} <= set(unit_codes)
    assert len({h.unit_code for h in demo.halls}) == len(demo.halls)


def test_deterministic_for_a_seed() -> None:
    a, b, c = province(7, 3000), province(7, 3000), province(8, 3000)
    assert a == b
    assert [p.full_name for p, _ in a.persons] != [p.full_name for p, _ in c.persons]
    assert province(members=5000).units == province(members=5000).units


def test_halls_of_every_channel_and_invitations(demo: DemoProvince) -> None:
    assert 110 <= len(demo.halls) <= 130
    assert {h.channel for h in demo.halls} == set(Channel)
    [host] = [h for h in demo.halls if h.role is HallRole.HOST]
    assert host.unit_code == "QT" and host.level == 0
    types = {u.code: u.type for u in demo.units}
    assert all(types[h.unit_code] is UnitType.COMMITTEE for h in demo.halls if h.level == 1)
    assert sum(h.level == 1 for h in demo.halls) == 11
    assert all(types[h.unit_code] is UnitType.GRASSROOTS for h in demo.halls if h.level == 2)
    assert "Điểm cầu huyện Gio Linh" in {h.name for h in demo.halls}
    assert all(h.chair and h.technical_contact for h in demo.halls)
    # everyone is invited to the hall of their nearest ancestor-or-self that has one
    halls = {h.unit_code for h in demo.halls}
    assert set(demo.hall_of) == {p.code for p, _ in demo.persons}
    for p, unit in demo.persons[::97]:
        code: str | None = unit
        while code is not None and code not in halls:
            code = demo.parent_codes[code]
        assert demo.hall_of[p.code] == code
    assert len(set(demo.hall_of.values())) == len(demo.halls)  # no hall is left empty


def test_the_first_session_is_open_for_check_in_now_and_nobody_is_late_yet() -> None:
    first, second = demo_sessions(NOW)
    assert first.checkin_open(NOW) and not first.is_late(NOW + timedelta(minutes=30))
    assert timedelta(minutes=25) < first.starts_at - NOW <= timedelta(minutes=30)
    assert first.starts_at.astimezone(ZONE).minute % 5 == 0
    assert first.ends_at < second.checkin_opens_at and not second.checkin_open(NOW)
    for s in (first, second):
        assert check_window(s) is s
        assert s.checkin_opens_at == s.starts_at - timedelta(hours=1)
        assert s.late_after_minutes == 15
    late_night = datetime(2026, 5, 4, 23, 30, tzinfo=ZONE).astimezone(ZoneInfo("UTC"))
    assert demo_sessions(late_night)[0].checkin_open(late_night)


async def test_a_reused_demo_moves_its_sessions_to_start_from_now(engine: AsyncEngine) -> None:
    await seed(engine, Passwords(time_cost=1, memory_cost_kib=8192), NOW, members=SMALL)
    assert not await keep_open(engine, NOW + timedelta(minutes=10))  # still open: nothing moves
    later = NOW + timedelta(days=3, hours=5)
    assert await keep_open(engine, later)
    store = ConferenceStore(engine)
    [conf] = await store.list_conferences()
    first, second = await store.sessions_of(conf.id)
    assert first.checkin_open(later) and first.starts_at == demo_sessions(later)[0].starts_at
    assert second.starts_at - first.starts_at == timedelta(hours=5, minutes=30)


def test_account_plan(demo: DemoProvince) -> None:
    plan = account_plan(demo)
    assert {a.role for a in plan} == {Role.ADMIN, Role.ORGANISER, Role.HALL_CHAIR, Role.HALL_CLERK,
                                      Role.PARTICIPANT}
    assert len({a.username for a in plan}) == len(plan)
    assert all(a.password == DEMO_PASSWORD and len(a.password) >= 8 for a in plan)
    assert all(a.label and a.sees for a in plan)
    hall = demo.hall(demo.hall_unit_code)
    assert demo.hall_of[demo.participant_code] == hall.unit_code
    text = banner("http://127.0.0.1:8000/", plan)
    assert "http://127.0.0.1:8000/" in text and all(a.username in text for a in plan)
    assert "70.000" not in text and "69.976 đảng viên" in text  # members, guests aside, with a thousands dot


async def test_seed_into_an_empty_database(engine: AsyncEngine) -> None:
    passwords = Passwords(time_cost=1, memory_cost_kib=8192)
    assert not await is_seeded(engine)
    accounts = await seed(engine, passwords, NOW, members=SMALL)
    assert await is_seeded(engine)
    demo = province(members=SMALL)
    store = ConferenceStore(engine)

    assert await store.count_persons() == SMALL
    units = await store.all_units()
    assert len(units) == len(demo.units)
    tree = UnitTree(units)
    gio_my = next(u for u in units if u.code == demo.hall_unit_code)
    assert [u.code for u in tree.path(gio_my.id)] == ["QT", "QT.H04", demo.hall_unit_code]

    [conf] = await store.list_conferences()
    assert conf.id == accounts.conference_id and conf.mode is ConferenceMode.PRESENTER
    assert conf.title == "Hội nghị học tập, quán triệt Chuyên đề năm 2026"
    assert conf.organiser_unit_id == tree.roots()[0].id
    sessions = await store.sessions_of(conf.id)
    assert len(sessions) == 2 and sessions[0].starts_at > NOW

    halls = await store.halls_of(conf.id)
    assert len(halls) == len(demo.halls) and {h.channel for h in halls} == set(Channel)
    assert all(h.level == tree.level(h.unit_id) for h in halls)
    invitations = await store.invitations_of(conf.id)
    assert len(invitations) == SMALL
    persons = await store.persons_by_ids(i.person_id for i in invitations)
    expected = sum(1 for i in invitations if not persons[i.person_id].exempt)
    assert sum(h.expected_count for h in halls) == expected
    assert expected == SMALL - sum(p.exempt for p, _ in demo.persons)
    by_hall = Counter(i.hall_id for i in invitations if not persons[i.person_id].exempt)
    assert all(h.expected_count == by_hall[h.id] for h in halls)

    service = ConferenceService(store, passwords, lambda: NOW)
    for account in accounts:
        user = await service.authenticate(account.username, account.password)
        assert user.role is account.role
        if account.role is Role.ADMIN:
            assert user.scope_unit_id is None
        else:
            assert user.scope_unit_id is not None
    participant = await service.authenticate("daibieu", DEMO_PASSWORD)
    assert participant.person_id is not None
    hall = next(h for h in halls if h.unit_id == gio_my.id)
    assert any(i.person_id == participant.person_id and i.hall_id == hall.id for i in invitations)
    async with engine.connect() as c:
        assert (await c.execute(select(func.count()).select_from(t.users))).scalar_one() == len(accounts)

    with pytest.raises(Conflict):  # never on top of existing data
        await seed(engine, passwords, NOW, members=SMALL)
