"""The sessions a hub serves, each with its tally built from the store: when first needed, and again at
every resync (every RESYNC_SECONDS, when the bus reconnects, when a hub asks): the store is the truth,
the bus only makes it fast.

A session loaded mid-way (a hub started or restarted) also rebuilds its check-in rate chart and its
recent feed from the store's check-ins. Changes applied while a resync reads the store are journalled
and replayed on the rebuilt tally, so none is lost and none counted twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from attendance.counting import inputs, reported_of, statuses_of
from attendance.ledger import Ledger
from conference.service import ConferenceService
from web.live.presence import Presence
from web.live.tally import RECENT_MAX, Arrival, HallInfo, Reported, SessionTally
from web.live.topics import LiveSession
from web.usecases.facts import ConferenceFacts

log = logging.getLogger(__name__)

RESYNC_SECONDS = 60.0  # a safety net: a lost bus message also makes every hub resync at once


class Sessions:
    """The live sessions (`live`, by session id), loaded on demand, resynced from the store."""

    def __init__(self, conference: ConferenceService, facts: ConferenceFacts, ledger: Ledger, zone: Any,
                 presence: Presence) -> None:
        self.conference = conference
        self.facts = facts
        self.ledger = ledger
        self.zone = zone
        self.presence = presence
        self.live: dict[int, LiveSession] = {}
        self._loading: dict[int, asyncio.Lock] = {}

    async def get(self, session_id: int) -> LiveSession:
        """The session's live state, loaded from the store the first time (NotFound for no such session)."""
        live = self.live.get(session_id)
        if live is not None:
            return live
        async with self._loading.setdefault(session_id, asyncio.Lock()):
            live = self.live.get(session_id)
            if live is None:
                live = self.live[session_id] = await self._load(session_id)
            return live

    def drop(self, idle: Callable[[LiveSession], bool]) -> None:
        """Forget the sessions `idle` says nobody reads (loaded again when someone asks)."""
        for session_id in [s for s, live in self.live.items() if idle(live) and live.journal is None]:
            del self.live[session_id]
            self._loading.pop(session_id, None)

    async def _load(self, session_id: int) -> LiveSession:
        store = self.conference.store
        session = await store.get_session(session_id)
        day = session.starts_at.astimezone(self.zone).date()
        tree = await self.conference.tree(day)
        halls = await store.halls_of(session.conference_id)
        invited = await self.facts.invited(session.conference_id)
        persons = await store.persons_by_ids(list(invited))
        checkins = await self.ledger.checkins(session_id)
        invitees = ((p, hall, persons[p].unit_id, persons[p].exempt) for p, hall in invited.items() if p in persons)
        given = inputs(invitees, statuses_of(checkins), await self.ledger.store.headcounts_of(session_id))
        tally = SessionTally(
            {"id": session.id, "title": session.title, "starts_at": session.starts_at.isoformat()}, tree,
            [HallInfo(h.id, h.name, h.unit_id, h.level, h.channel.value) for h in halls],
            given.invited, given.statuses, given.reported)
        arrivals = sorted((Arrival(c.person_id, c.server_time, c.hall_id, c.method.value) for c in checkins
                           if c.present), key=lambda a: a.at)
        cards = await self.facts.cards([a.person_id for a in arrivals[-RECENT_MAX:]])
        tally.load_history(arrivals, {p: card.full_name for p, card in cards.items()})
        self.presence.loaded(halls)
        conference = await store.get_conference(session.conference_id)
        live = LiveSession(session.id, session.conference_id, tally, conference.organiser_unit_id)
        self.presence.update(live)
        tally.take_changes()
        return live

    async def _reported(self, session_id: int) -> dict[int, Reported]:
        return reported_of(await self.ledger.store.headcounts_of(session_id))

    async def resync(self, replay: Callable[[list[dict[str, Any]]], None]) -> None:
        """Every session's tally rebuilt from the store; `replay` applies again what arrived meanwhile."""
        for live in list(self.live.values()):
            live.journal = []
            try:
                durable = await self.ledger.statuses(live.session_id), await self._reported(live.session_id)
            except Exception as e:  # the store is down: try again next round
                log.warning("resync of session %s failed: %s", live.session_id, e)
                continue
            finally:
                journal, live.journal = live.journal, None
            live.tally.resync(*durable)
            replay(journal)  # what arrived during the read may be missing from it
