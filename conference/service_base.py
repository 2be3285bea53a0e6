"""The ground every conference use case stands on: the services' shared state (store, password hasher,
clock), the unit tree (cached for a few seconds, as it stands today, on a given day, or of all time) and
the one check "this conference concerns the actor" (its organising unit and the actor's scope cover
each other) that every conference, feedback and report use case starts from."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from conference.accounts import Action, User, authorize, covers
from conference.conferences import Conference
from conference.errors import Forbidden
from conference.passwords import Passwords
from conference.store import ConferenceStore
from conference.units import Unit, UnitTree

Clock = Callable[[], datetime]


class ServiceBase:
    """The state and the checks shared by the parts of `ConferenceService`."""

    def __init__(self, store: ConferenceStore, passwords: Passwords, clock: Clock,
                 tree_ttl_seconds: float = 5.0) -> None:
        self.store = store
        self.passwords = passwords
        self.clock = clock
        self._tree_ttl = tree_ttl_seconds
        self._units: tuple[float, list[Unit]] | None = None
        self._units_lock = asyncio.Lock()
        # told each account whose sessions all ended (sign-out everywhere, a password change): the live hub
        # closes its sockets on every hub
        self.sessions_ended: list[Callable[[int], Awaitable[None]]] = []

    async def _sessions_ended(self, user_id: int) -> None:
        for listener in self.sessions_ended:
            await listener(user_id)

    # -- the unit tree ------------------------------------------------------------------------------
    async def units(self) -> list[Unit]:
        """Every unit, cached for a few seconds (other processes' roster imports show up after that)."""
        async with self._units_lock:
            if self._units is None or time.monotonic() - self._units[0] > self._tree_ttl:
                self._units = (time.monotonic(), await self.store.all_units())
            return self._units[1]

    def forget_units(self) -> None:
        self._units = None

    async def tree(self, day: date | None = None) -> UnitTree:
        """The tree as it stands today, or as it stood on `day`."""
        return UnitTree(await self.units(), day or self.clock().date())

    async def all_time_tree(self) -> UnitTree:
        """Every unit that ever existed, merged ones included: feedback keeps the unit it was sent from."""
        return UnitTree(await self.units())

    # -- the conferences that concern the actor ---------------------------------------------------
    async def conferences(self, actor: User) -> list[Conference]:
        tree = await self.tree()
        authorize(actor, Action.VIEW_CONFERENCE, None, tree)
        return [c for c in await self.store.list_conferences() if covers(actor, c.organiser_unit_id, tree)]

    async def conference(self, actor: User, conference_id: int) -> Conference:
        conf = await self.store.get_conference(conference_id)
        tree = await self.tree()
        authorize(actor, Action.VIEW_CONFERENCE, None, tree)
        if not covers(actor, conf.organiser_unit_id, tree):
            raise Forbidden("this conference is outside the user's scope")
        return conf
