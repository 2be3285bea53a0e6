"""What the attendance ledger needs to know from the conference records, cached for speed.

Sessions and invitations change rarely during a conference; they are cached for `ttl` seconds so a
check-in costs no conference query. The person directory gives the kiosk a name and unit to greet.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from attendance.rules import SessionRules, WrongHallPolicy
from conference.service import ConferenceService


@dataclass(frozen=True)
class PersonCard:
    """How a kiosk greets a person: "Xin chào Nguyễn Văn An · Chi bộ …"."""

    person_id: int
    full_name: str
    unit_name: str


class ConferenceFacts:
    def __init__(self, conference: ConferenceService, wrong_hall: WrongHallPolicy, admit_uninvited: bool,
                 ttl: float = 30.0) -> None:
        self.conference = conference
        self.wrong_hall = wrong_hall
        self.admit_uninvited = admit_uninvited
        self.ttl = ttl
        self._rules: dict[int, tuple[float, SessionRules]] = {}
        self._invited: dict[int, tuple[float, dict[int, int]]] = {}
        self._cards: dict[int, PersonCard] = {}
        self._halls: dict[int, tuple[int, str]] = {}
        self._lock = asyncio.Lock()

    async def session_rules(self, session_id: int) -> SessionRules:
        cached = self._rules.get(session_id)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        s = await self.conference.store.get_session(session_id)
        rules = SessionRules(s.id, s.conference_id, s.starts_at, s.checkin_opens_at, s.checkin_closes_at,
                             s.late_after_minutes, self.wrong_hall, self.admit_uninvited)
        self._rules[session_id] = (time.monotonic(), rules)
        return rules

    async def expected_hall(self, conference_id: int, person_id: int) -> int | None:
        return (await self.invited(conference_id)).get(person_id)

    async def invited(self, conference_id: int) -> dict[int, int]:
        """person id -> hall id for everyone invited to the conference."""
        cached = self._invited.get(conference_id)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        async with self._lock:
            cached = self._invited.get(conference_id)
            if cached and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            invitations = await self.conference.store.invitations_of(conference_id)
            mapping = {i.person_id: i.hall_id for i in invitations}
            self._invited[conference_id] = (time.monotonic(), mapping)
            return mapping

    async def hall_conference(self, hall_id: int) -> int:
        return (await self._hall(hall_id))[0]

    async def hall_name(self, hall_id: int) -> str:
        return (await self._hall(hall_id))[1]

    async def _hall(self, hall_id: int) -> tuple[int, str]:
        cached = self._halls.get(hall_id)
        if cached is None:
            hall = await self.conference.store.get_hall(hall_id)
            cached = self._halls[hall_id] = (hall.conference_id, hall.name)
        return cached

    def forget(self) -> None:
        self._rules.clear()
        self._invited.clear()
        self._cards.clear()

    async def cards(self, person_ids: list[int]) -> dict[int, PersonCard]:
        missing = [p for p in person_ids if p not in self._cards]
        if missing:
            people = await self.conference.store.persons_by_ids(missing)
            units = {u.id: u.name for u in await self.conference.units()}
            for p in people.values():
                self._cards[p.id] = PersonCard(p.id, p.full_name, units.get(p.unit_id, ""))
        return {p: self._cards[p] for p in person_ids if p in self._cards}
