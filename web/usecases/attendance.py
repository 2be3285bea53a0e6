"""One session's attendance as every screen counts it: the session's records read from the stores in one
place (check-ins, headcounts; invitees with their exempt flag), turned into `attendance.counting.Inputs`
and counted by that module's one rule.

The hall pages read here too: the halls in scope (`my_halls`), one hall (`hall_home`), one hall's list and
figures for a session (`hall_sheet`, `Attendance.hall`) and a kiosk's search of its hall (`kiosk_search`),
namesakes told apart by `told_apart`. The session report and its XLSX/PDF read
the session's records through `Attendance.records` and count them with the same functions
(web/reporting/figures.py); the live hub's tally (web/live/tally.py) counts with them too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from attendance.checkins import CheckIn
from attendance.counting import Source, inputs, one_hall, statuses_of
from attendance.headcounts import Headcount
from attendance.store import LedgerStore
from conference.accounts import Action, User, may
from conference.conferences import Conference, Session
from conference.errors import Forbidden
from conference.halls import Hall
from conference.people import Person
from conference.service import ConferenceService
from web.usecases.facts import ConferenceFacts, PersonCard


@dataclass(frozen=True)
class HallAttendance:
    """A hall's figures in one session (the keys of `attendance.counting.Counts.view`), where they come
    from, and the session's check-ins by person (the page shows each delegate's)."""

    figures: dict[str, Any]
    source: Source
    checkins: dict[int, CheckIn]
    headcount: Headcount | None = None  # the hall's last report, counted only while it has no check-ins


@dataclass(frozen=True)
class HallSheet:
    """What the hall clerk's page shows for one hall and session: the delegates found (at most `limit`),
    how a kiosk names them, the hall's figures and whether the viewer may check people in."""

    hall: Hall
    conference: Conference
    session: Session
    people: list[Person]
    cards: dict[int, PersonCard]
    attendance: HallAttendance
    can_check_in: bool
    found: int  # how many match the query (people holds at most `limit` of them)
    details: dict[int, str]  # person id -> what tells them apart from a namesake (`told_apart`)


@dataclass(frozen=True)
class HallHome:
    """A hall's own page: its conference and sessions (which are open for check-in now), and which of the
    hall's pages the viewer may open."""

    hall: Hall
    conference: Conference
    unit_name: str
    sessions: list[Session]
    open_now: set[int]
    can_check_in: bool
    can_manage_devices: bool
    can_hand_out_cards: bool


def told_apart(people: Iterable[Person], cards: Mapping[int, PersonCard]) -> dict[int, str]:
    """What a list shows under each name so that namesakes can be told apart: the cell and the position,
    and the member code where even those are the same (the roster holds no birth dates)."""
    people = list(people)
    shown = {p.id: " · ".join(x for x in (cards[p.id].unit_name if p.id in cards else "", p.position) if x)
             for p in people}
    alike = Counter((p.full_name, shown[p.id]) for p in people)
    return {p.id: " · ".join(x for x in (shown[p.id], p.code if alike[p.full_name, shown[p.id]] > 1 else "") if x)
            for p in people}


class Attendance:
    def __init__(self, conference: ConferenceService, ledger: LedgerStore, facts: ConferenceFacts) -> None:
        self.conference = conference
        self.ledger = ledger
        self.facts = facts

    async def hall_sheet(self, actor: User, hall_id: int, session_id: int, query: str, limit: int) -> HallSheet:
        """The hall page: staff with attendance rights over the hall (Forbidden otherwise), in a session the
        hall takes part in (Invalid otherwise); the delegates matching `query` without diacritics."""
        hall = await self.conference.hall(actor, hall_id, Action.VIEW_ATTENDANCE)
        conf, session = await self.conference.session(actor, session_id)
        await self.facts.require_hall_in_session(hall.id, session.id)
        _, people = await self.conference.hall_invitees(hall.id, query, limit)
        found = len(people) if len(people) < limit else await self.conference.count_hall_invitees(hall.id, query)
        figures = await self.hall(hall, session)
        cards = await self.facts.cards([p.id for p in people])
        return HallSheet(hall, conf, session, people, cards, figures, may(actor, Action.CHECK_IN_MANUALLY), found,
                         told_apart(people, cards))

    async def hall_home(self, actor: User, hall_id: int, now: datetime) -> HallHome:
        """The hall page: staff with attendance rights over the hall (Forbidden otherwise)."""
        hall, conf = await self.conference.hall_and_conference(actor, hall_id, Action.VIEW_ATTENDANCE)
        sessions = sorted(await self.conference.store.sessions_of(conf.id), key=lambda s: s.starts_at)
        tree = await self.conference.tree()
        unit_name = tree.get(hall.unit_id).name if hall.unit_id in tree else ""  # a unit since merged: no name
        return HallHome(hall, conf, unit_name, sessions, {s.id for s in sessions if s.checkin_open(now)},
                        may(actor, Action.CHECK_IN_MANUALLY), may(actor, Action.MANAGE_DEVICES),
                        may(actor, Action.HAND_OUT_CARDS))

    async def my_halls(self, actor: User) -> list[tuple[Conference, Hall]]:
        """The halls hosted in the actor's scope, of the conferences that concern them (staff)."""
        if not may(actor, Action.VIEW_ATTENDANCE):
            raise Forbidden("this role may not view attendance")
        return [(conf, hall) for conf in await self.conference.conferences(actor)
                for hall in await self.conference.halls(actor, conf.id)]

    async def kiosk_search(self, hall_id: int, query: str, limit: int, session_id: int | None
                           ) -> tuple[Hall, list[tuple[Person, str, CheckIn | None]]]:
        """For a kiosk already verified as bound to `hall_id` (and the session as the hall's): its invitees
        matching `query`, what tells namesakes apart, and each one's record in the session."""
        if session_id is not None:
            await self.facts.require_hall_in_session(hall_id, session_id)
        hall, people = await self.conference.hall_invitees(hall_id, query, limit)
        details = told_apart(people, await self.facts.cards([p.id for p in people]))
        records = {p.id: await self.ledger.checkin(session_id, p.id) for p in people} if session_id else {}
        return hall, [(p, details[p.id], records.get(p.id)) for p in people]

    async def records(self, session_id: int,
                      hall_ids: Collection[int] | None = None) -> tuple[list[CheckIn], list[Headcount]]:
        """The session's check-ins, and the headcounts of `hall_ids` (None: of every hall)."""
        checkins = await self.ledger.checkins_of(session_id)
        headcounts = await self.ledger.headcounts_of(session_id)
        return checkins, [h for h in headcounts if hall_ids is None or h.hall_id in hall_ids]

    async def hall(self, hall: Hall, session: Session) -> HallAttendance:
        """The figures of a hall the caller may see, in a session of its conference: its invitees (the
        exempt not expected), their statuses, its headcount when it has no individual check-ins."""
        store = self.conference.store
        invitations = await store.invitations_of(hall.conference_id, hall.id)
        persons = await store.persons_by_ids(i.person_id for i in invitations)
        checkins, headcounts = await self.records(session.id, {hall.id})
        given = inputs(((p.id, hall.id, p.unit_id, p.exempt) for p in persons.values()), statuses_of(checkins),
                       headcounts)
        figures, source = one_hall(given, hall.id)
        return HallAttendance(figures, source, {c.person_id: c for c in checkins},
                              headcounts[0] if headcounts else None)
