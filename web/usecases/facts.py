"""What the attendance ledger needs to know from the conference records, cached for speed.

Sessions and invitations change rarely during a conference; they are cached for `ttl` seconds so a
check-in costs no conference query. The person directory gives the kiosk a name and unit to greet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from attendance.rules import SessionRules, WrongHallPolicy
from conference.errors import Invalid, NotFound
from conference.service import ConferenceService

log = logging.getLogger(__name__)


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
        self._wanted: set[int] = set()
        self._card_loader: asyncio.Task[None] | None = None
        self._unit_names: tuple[object, dict[int, str]] = (None, {})
        self._halls: dict[int, tuple[int, str]] = {}
        self._lock = asyncio.Lock()
        self._refreshing: dict[tuple[str, int], asyncio.Task[None]] = {}

    async def session_rules(self, session_id: int) -> SessionRules:
        cached = self._rules.get(session_id)
        if cached is None:
            return await self._load_rules(session_id)
        if time.monotonic() - cached[0] >= self.ttl:
            self._refresh_soon(("rules", session_id), lambda: self._load_rules(session_id), self._rules, session_id)
        return cached[1]

    def forget_rules(self, session_id: int) -> None:
        """A session's times changed: its rules are read again on the next scan (other hubs: within `ttl`)."""
        self._rules.pop(session_id, None)

    async def _load_rules(self, session_id: int) -> SessionRules:
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
        if cached is not None:
            if time.monotonic() - cached[0] >= self.ttl:
                self._refresh_soon(("invited", conference_id), lambda: self._load_invited(conference_id),
                                   self._invited, conference_id)
            return cached[1]
        async with self._lock:
            cached = self._invited.get(conference_id)
            if cached is not None:
                return cached[1]
            return await self._load_invited(conference_id)

    async def _load_invited(self, conference_id: int) -> dict[int, int]:
        invitations = await self.conference.store.invitations_of(conference_id)
        mapping = {i.person_id: i.hall_id for i in invitations}
        self._invited[conference_id] = (time.monotonic(), mapping)
        return mapping

    def _refresh_soon(self, key: tuple[str, int], load: Callable[[], Awaitable[object]],
                      cache: dict[int, Any], cache_key: int) -> None:
        """Stale while revalidating: an expired entry is still answered while one background task reloads it,
        so the check-ins of a busy hall neither wait for the reload (70,000 invitations take a few hundred
        ms) nor each send their own query when the entry expires. A failed reload keeps the old entry and is
        tried again on the next call; a record gone from the store is forgotten, so the next call says so."""
        if key in self._refreshing:
            return

        async def reload() -> None:
            try:
                await load()
            except NotFound:
                cache.pop(cache_key, None)
            except Exception as e:
                log.warning("could not refresh %s %s: %s", key[0], key[1], e)
            finally:
                self._refreshing.pop(key, None)

        self._refreshing[key] = asyncio.create_task(reload())

    async def hall_in_session(self, hall_id: int, session_id: int) -> bool:
        """Whether the hall takes part in the session: it belongs to the session's conference.

        The one home of this rule: check-ins, faces, the live hub, the media plane and the pages ask here."""
        rules = await self.session_rules(session_id)
        return await self.hall_conference(hall_id) == rules.conference_id

    async def require_hall_in_session(self, hall_id: int, session_id: int) -> SessionRules:
        """The session's rules, once the hall is known to take part in it (`Invalid` on hall_id otherwise)."""
        if not await self.hall_in_session(hall_id, session_id):
            raise Invalid("this hall is not part of the session's conference", field="hall_id")
        return await self.session_rules(session_id)

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
            await self._load_cards(missing)
        return {p: self._cards[p] for p in person_ids if p in self._cards}

    async def _load_cards(self, person_ids: list[int]) -> None:
        """Coalesced: misses of concurrent callers (a check-in rush) are read in one query at a time,
        each batch taking whatever was asked while the previous one was in flight."""
        self._wanted.update(person_ids)
        if self._card_loader is None:
            self._card_loader = asyncio.create_task(self._card_loop())
        await asyncio.shield(self._card_loader)

    async def _card_loop(self) -> None:
        try:
            await asyncio.sleep(0)  # let the callers of this tick join the first batch
            while self._wanted:
                batch, self._wanted = self._wanted, set()
                people = await self.conference.store.persons_by_ids(sorted(batch))
                units = await self.conference.units()
                if units is not self._unit_names[0]:
                    self._unit_names = (units, {u.id: u.name for u in units})
                names = self._unit_names[1]
                for p in people.values():
                    self._cards[p.id] = PersonCard(p.id, p.full_name, names.get(p.unit_id, ""))
        finally:
            self._card_loader = None
