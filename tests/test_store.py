"""The store suite: the same tests against SQLite and PostgreSQL, for real."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from conference.accounts import Role, new_user
from conference.conferences import ConferenceMode, new_conference, new_session
from conference.errors import Conflict, NotFound
from conference.halls import Channel, HallRole, Invitation, new_hall
from conference.people import MemberType, new_person
from conference.store import ConferenceStore
from conference.units import UnitTree, UnitType, new_unit

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 20, 7, 30, tzinfo=ICT)


async def seed_units(store: ConferenceStore) -> dict[str, int]:
    province = await store.add_unit(new_unit("T", "Đảng bộ tỉnh Quảng Trị", UnitType.PROVINCE, None))
    district = await store.add_unit(new_unit("T.H1", "Đảng bộ huyện Lệ Thủy", UnitType.COMMITTEE, province.id))
    cell = await store.add_unit(new_unit("T.H1.C1", "Chi bộ thôn Đông", UnitType.CELL, district.id))
    return {"province": province.id, "district": district.id, "cell": cell.id}


async def test_units_round_trip_and_codes_are_unique(engine: AsyncEngine) -> None:
    store = ConferenceStore(engine)
    ids = await seed_units(store)
    tree = UnitTree(await store.all_units())
    assert [u.code for u in tree.path(ids["cell"])] == ["T", "T.H1", "T.H1.C1"]
    assert tree.get(ids["district"]).name == "Đảng bộ huyện Lệ Thủy"
    with pytest.raises(Conflict):
        await store.add_unit(new_unit("T", "again", UnitType.PROVINCE, None))


async def test_unit_validity_dates_survive_the_store(engine: AsyncEngine) -> None:
    store = ConferenceStore(engine)
    ids = await seed_units(store)
    await store.set_unit_validity(ids["district"], date(2025, 6, 30))
    units = await store.all_units()
    assert len(UnitTree(units, date(2025, 1, 1))) == 3
    assert ids["district"] not in UnitTree(units, date(2025, 7, 1))


async def test_persons_are_found_without_diacritics(engine: AsyncEngine) -> None:
    store = ConferenceStore(engine)
    ids = await seed_units(store)
    names = ["Nguyễn Văn An", "Trần Thị Ánh", "Đặng Văn Đức", "Nguyễn Văn Ân"]
    people = [(new_person(f"P{i}", n, ids["cell"], member_type=MemberType.FULL), "T.H1.C1")
              for i, n in enumerate(names)]
    await store.apply_roster([], [], {}, people, [], {"sha256": "0" * 64, "filename": "x", "imported_at": NOW,
                                                       "user_id": None})
    found, total = await store.find_persons(None, "nguyen van an")
    assert total == 2 and {p.full_name for p in found} == {"Nguyễn Văn An", "Nguyễn Văn Ân"}
    found, total = await store.find_persons([ids["cell"]], "dang van duc")
    assert [p.full_name for p in found] == ["Đặng Văn Đức"]
    _, total = await store.find_persons([ids["district"]], "")
    assert total == 0  # the district itself has nobody; subtree expansion is the service's job
    _, total = await store.find_persons(None, "%")  # LIKE wildcards are escaped
    assert total == 0


async def test_conference_sessions_halls_and_expected_counts(engine: AsyncEngine) -> None:
    store = ConferenceStore(engine)
    ids = await seed_units(store)
    conf = await store.add_conference(new_conference("Hội nghị học tập Chuyên đề năm 2026", "Chuyên đề",
                                                     ConferenceMode.PRESENTER, ids["province"], NOW))
    session = await store.add_session(new_session(conf.id, "Buổi sáng", NOW, NOW + timedelta(hours=4)))
    got = await store.get_session(session.id)
    assert got.starts_at == NOW and got.starts_at.tzinfo is not None
    assert got.checkin_opens_at == NOW - timedelta(hours=1)
    hall = await store.add_hall(new_hall(conf.id, ids["cell"], "Hội trường thôn Đông", 2,
                                         HallRole.PARTICIPATING, Channel.RECEIVE_ONLY))
    with pytest.raises(Conflict):
        await store.add_hall(new_hall(conf.id, ids["cell"], "again", 2, HallRole.PARTICIPATING, Channel.IN_PERSON))
    people = [(new_person("A", "Lê Văn A", ids["cell"]), "T.H1.C1"),
              (new_person("B", "Lê Văn B", ids["cell"], exempt=True), "T.H1.C1")]
    await store.apply_roster([], [], {}, people, [], {"sha256": "1" * 64, "filename": "x", "imported_at": NOW,
                                                       "user_id": None})
    by_code = await store.persons_by_code()
    await store.invite([Invitation(conf.id, by_code["A"].id, hall.id), Invitation(conf.id, by_code["B"].id, hall.id)])
    assert (await store.get_hall(hall.id)).expected_count == 1  # the exempt member is not expected
    await store.invite([Invitation(conf.id, by_code["A"].id, hall.id)])  # re-inviting changes nothing
    assert len(await store.invitations_of(conf.id)) == 2
    with pytest.raises(NotFound):
        await store.get_hall(hall.id + 100)


async def test_users_and_audit(engine: AsyncEngine) -> None:
    store = ConferenceStore(engine)
    ids = await seed_units(store)
    user = await store.add_user(new_user("btg.tinh", "Ban Tuyên giáo", Role.ORGANISER, ids["province"]), "h", NOW)
    found = await store.user_with_hash("btg.tinh")
    assert found is not None and found[0] == user and found[1] == "h"
    with pytest.raises(Conflict):
        await store.add_user(new_user("btg.tinh", "x", Role.ORGANISER, ids["province"]), "h", NOW)
    from conference.audit import AuditAction, AuditEntry
    await store.audit(AuditEntry(NOW, user.id, AuditAction.VIEW_PEOPLE, f"unit:{ids['cell']}"))
    [entry] = await store.audit_entries()
    assert entry.at == NOW.astimezone(UTC) and entry.action is AuditAction.VIEW_PEOPLE
