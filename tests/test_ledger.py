"""The check-in ledger against the real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from attendance import tables as at
from attendance.checkins import Method, Outcome, Refusal, Status
from attendance.issuer import Credentials
from attendance.keys import Sealer
from attendance.ledger import Ledger
from attendance.rules import Scan, WrongHallPolicy
from attendance.store import LedgerStore
from conference.accounts import Role, User
from conference.conferences import ConferenceMode
from conference.halls import Channel, HallRole, Invitation
from conference.passwords import Passwords
from conference.people import new_person
from conference.service import ConferenceService
from conference.store import ConferenceStore
from conference.units import UnitType, new_unit
from web.usecases.facts import ConferenceFacts

START = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
PEOPLE = 2100


@dataclass
class Setup:
    ledger: Ledger
    credentials: Credentials
    session_id: int
    halls: list[int]
    persons: list[int]
    texts: dict[int, str]


def clock() -> datetime:
    return datetime.now(UTC)


async def make_ledger(engine: AsyncEngine, conference: ConferenceService) -> tuple[Ledger, Credentials]:
    facts = ConferenceFacts(conference, WrongHallPolicy.ACCEPT_AND_FLAG, admit_uninvited=False)
    store = LedgerStore(engine)
    credentials = Credentials(store, Sealer("d" * 40), clock)
    return Ledger(store, credentials, facts, clock), credentials


@pytest.fixture
async def setup(engine: AsyncEngine) -> AsyncIterator[Setup]:
    store = ConferenceStore(engine)
    conference = ConferenceService(store, Passwords(1, 8192), clock)
    province = await store.add_unit(new_unit("P", "Tỉnh", UnitType.PROVINCE, None))
    cells = [await store.add_unit(new_unit(f"C{i}", f"Chi bộ {i}", UnitType.CELL, province.id)) for i in range(2)]
    people = [(new_person(f"N{i:05d}", f"Đảng viên số {i}", cells[i % 2].id), f"C{i % 2}") for i in range(PEOPLE)]
    await store.apply_roster([], [], {}, people, [], {"sha256": "0" * 64, "filename": "t", "imported_at": clock(),
                                                       "user_id": None})
    organiser = User(0, "org", "Org", Role.ADMIN, None)
    conf = await conference.create_conference(organiser, "Hội nghị", "", ConferenceMode.PRESENTER, province.id)
    session = await conference.add_session(organiser, conf.id, "Sáng", START, START + timedelta(hours=3))
    halls = [(await conference.add_hall(organiser, conf.id, c.id, "", HallRole.PARTICIPATING, Channel.IN_PERSON)).id
             for c in cells]
    by_code = await store.persons_by_code()
    persons = [by_code[f"N{i:05d}"].id for i in range(PEOPLE)]
    await store.invite([Invitation(conf.id, p, halls[i % 2]) for i, p in enumerate(persons)])
    ledger, credentials = await make_ledger(engine, conference)
    live = await credentials.current(persons)
    texts = {p: await credentials.text(live[p]) for p in persons}
    yield Setup(ledger, credentials, session.id, halls, persons, texts)
    await ledger.stop()


def kiosk_scan(s: Setup, person_index: int, device: int = 1, nonce: str | None = None, offline: bool = False,
               minutes: float = 0) -> Scan:
    moment = START + timedelta(minutes=minutes)
    return Scan(s.session_id, s.halls[person_index % 2], Method.QR, clock(), kiosk_time=moment, device_id=device,
                nonce=nonce, offline=offline)


async def count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as c:
        return int((await c.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_five_kiosks_at_once_make_one_check_in(setup: Setup, engine: AsyncEngine) -> None:
    text = setup.texts[setup.persons[0]]
    verdicts = await asyncio.gather(*(setup.ledger.scan(kiosk_scan(setup, 0, device=d), text) for d in range(5)))
    outcomes = sorted(v.outcome.value for v in verdicts)
    assert outcomes == ["accepted", "repeat", "repeat", "repeat", "repeat"]
    first = next(v.checkin for v in verdicts if v.outcome is Outcome.ACCEPTED)
    assert all(v.checkin == first for v in verdicts)
    assert await count(engine, at.checkins) == 1
    assert await count(engine, at.scan_events) == 5


async def test_a_delegate_marked_absent_who_arrives_is_checked_in(setup: Setup, engine: AsyncEngine) -> None:
    """An absence is no presence: a scan after it checks the person in (once), and replaces the absence."""
    person = setup.persons[2]
    absent = await setup.ledger.mark_absent(setup.session_id, person, setup.halls[0], "Đi công tác", 7)
    assert absent.status is Status.ABSENT_EXCUSED
    first = await setup.ledger.scan(kiosk_scan(setup, 2), setup.texts[person])
    assert first.outcome is Outcome.ACCEPTED and first.checkin is not None
    assert first.checkin.status is Status.PRESENT_IN_PERSON
    again = await setup.ledger.scan(kiosk_scan(setup, 2, device=2), setup.texts[person])
    assert again.outcome is Outcome.REPEAT and again.checkin == first.checkin
    stored = {c.person_id: c for c in await setup.ledger.checkins(setup.session_id)}[person]
    assert stored.status is Status.PRESENT_IN_PERSON and stored.absence_reason == ""
    assert await count(engine, at.checkins) == 1


async def test_statuses_are_the_check_ins_in_two_columns(setup: Setup) -> None:
    for i in range(3):
        await setup.ledger.scan(kiosk_scan(setup, i), setup.texts[setup.persons[i]])
    statuses = await setup.ledger.statuses(setup.session_id)
    assert statuses == {c.person_id: c.status.value for c in await setup.ledger.checkins(setup.session_id)}
    assert set(statuses) == set(setup.persons[:3]) and set(statuses.values()) == {"present_in_person"}


async def test_watch_time_adds_up_over_hubs_and_remembers_the_last_writer(setup: Setup) -> None:
    s = setup.session_id
    a, b = setup.persons[:2]
    first = await setup.ledger.watched({(s, a): 30.0, (s, b): 5.0}, "hub1")
    assert first == {(s, a): 30.0, (s, b): 5.0}
    other, _ = await make_ledger(setup.ledger.store.engine, setup.ledger.facts.conference)  # type: ignore[attr-defined]
    try:  # two hubs adding at once: nothing lost
        x, y = await asyncio.gather(setup.ledger.watched({(s, a): 10.0}, "hub1"), other.watched({(s, a): 20.0}, "hub2"))
        assert max(x[(s, a)], y[(s, a)]) == 60.0
    finally:
        await other.stop()
    assert await setup.ledger.watching_elsewhere(s, b, "hub1") is False
    assert await setup.ledger.watching_elsewhere(s, a, "hub1") is (x[(s, a)] == 40.0)  # hub2 wrote last
    assert await setup.ledger.watching_elsewhere(s, setup.persons[2], "hub1") is False  # never watched


async def test_two_processes_racing_make_one_check_in(setup: Setup, engine: AsyncEngine) -> None:
    """Two ledgers on one database (as two hub processes): the database's key decides."""
    other, _ = await make_ledger(engine, setup.ledger.facts.conference)  # type: ignore[attr-defined]
    try:
        text = setup.texts[setup.persons[1]]
        a, b = await asyncio.gather(setup.ledger.scan(kiosk_scan(setup, 1), text),
                                    other.scan(kiosk_scan(setup, 1, device=2), text))
        assert sorted([a.outcome.value, b.outcome.value]) == ["accepted", "repeat"]
        assert a.checkin == b.checkin
        assert await count(engine, at.checkins) == 1
    finally:
        await other.stop()


async def test_the_same_nonce_is_the_same_answer(setup: Setup, engine: AsyncEngine) -> None:
    text = setup.texts[setup.persons[2]]
    nonce = uuid.uuid4().hex
    first = await setup.ledger.scan(kiosk_scan(setup, 2, nonce=nonce), text)
    again = await setup.ledger.scan(kiosk_scan(setup, 2, nonce=nonce), text)
    assert first.outcome is Outcome.ACCEPTED and again == first
    other, _ = await make_ledger(engine, setup.ledger.facts.conference)  # type: ignore[attr-defined]
    try:  # another process that never saw the nonce gives the first answer too
        third = await other.scan(kiosk_scan(setup, 2, nonce=nonce), text)
        assert third.outcome is Outcome.ACCEPTED and third.checkin == first.checkin
    finally:
        await other.stop()
    assert await count(engine, at.scan_events) == 1


async def test_a_scan_the_database_cannot_store_fails_alone(setup: Setup, engine: AsyncEngine) -> None:
    """One unstorable value (a kiosk clock past year 9999 in UTC) in a group commit fails that scan only,
    as a refusal (retrying cannot help); the other scans of its batch are recorded."""
    from datetime import timezone

    from attendance.errors import InvalidRecord

    beyond = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59)))
    scans = [kiosk_scan(setup, i, nonce=f"batch-{i}") for i in range(20)]
    scans[7] = replace(scans[7], kiosk_time=beyond)
    results = await asyncio.gather(*(setup.ledger.scan(scan, setup.texts[setup.persons[i]])
                                     for i, scan in enumerate(scans)), return_exceptions=True)
    assert isinstance(results[7], InvalidRecord)
    assert all(not isinstance(r, BaseException) and r.outcome is Outcome.ACCEPTED for i, r in enumerate(results)
               if i != 7)
    assert await count(engine, at.checkins) == 19


async def test_refused_scans_are_kept_with_their_reason(setup: Setup, engine: AsyncEngine) -> None:
    verdict = await setup.ledger.scan(kiosk_scan(setup, 0), "HN1:NOTACREDENTIAL")
    assert verdict.outcome is Outcome.REFUSED and verdict.reason is Refusal.MALFORMED
    person = setup.persons[3]
    old = setup.texts[person]
    await setup.credentials.issue(person)  # a lost card: re-issued, the old one revoked
    revoked = await setup.ledger.scan(kiosk_scan(setup, 3), old)
    assert revoked.reason is Refusal.REVOKED
    too_early = Scan(setup.session_id, setup.halls[0], Method.QR, server_time=START - timedelta(hours=2))
    early = await setup.ledger.scan(too_early, setup.texts[setup.persons[4]])
    assert early.reason is Refusal.CHECKIN_NOT_OPEN
    events = await setup.ledger.store.scan_events(setup.session_id)
    assert sorted(e.reason.value for e in events if e.reason) == ["checkin_not_open", "malformed", "revoked"]
    assert await count(engine, at.checkins) == 0


async def test_an_offline_queue_of_2000_uploads_idempotently(setup: Setup, engine: AsyncEngine) -> None:
    queue = [(kiosk_scan(setup, i, nonce=f"kiosk1-{i}", offline=True, minutes=-80 if i < 10 else i / 100),
              setup.texts[setup.persons[i]], None) for i in range(2000)]
    first = await setup.ledger.upload(queue)
    assert sum(v.outcome is Outcome.ACCEPTED for v in first) == 2000
    flagged = [v for v in first if v.checkin is not None and v.checkin.review.value == "pending"]
    assert len(flagged) == 10  # scanned before check-in opened: kept, flagged for review
    assert await count(engine, at.checkins) == 2000 and await count(engine, at.scan_events) == 2000
    again = await setup.ledger.upload(queue)
    assert again == first
    assert await count(engine, at.checkins) == 2000 and await count(engine, at.scan_events) == 2000
    assert setup.ledger.batches < 2000  # group commit: many scans per transaction
