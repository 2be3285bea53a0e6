"""One session's attendance as every screen counts it: the session's records read from the stores in one
place (check-ins, headcounts; invitees with their exempt flag), turned into `attendance.counting.Inputs`
and counted by that module's one rule.

The hall page reads one hall's figures here (`Attendance.hall`); the session report and its XLSX/PDF read
the session's records through `Attendance.records` and count them with the same functions
(web/reporting/figures.py); the live hub's tally (web/live/tally.py) counts with them too.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from attendance.checkins import CheckIn
from attendance.counting import Source, inputs, one_hall, statuses_of
from attendance.headcounts import Headcount
from attendance.store import LedgerStore
from conference.conferences import Session
from conference.halls import Hall
from conference.service import ConferenceService


@dataclass(frozen=True)
class HallAttendance:
    """A hall's figures in one session (the keys of `attendance.counting.Counts.view`), where they come
    from, and the session's check-ins by person (the page shows each delegate's)."""

    figures: dict[str, Any]
    source: Source
    checkins: dict[int, CheckIn]


class Attendance:
    def __init__(self, conference: ConferenceService, ledger: LedgerStore) -> None:
        self.conference = conference
        self.ledger = ledger

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
        return HallAttendance(figures, source, {c.person_id: c for c in checkins})
