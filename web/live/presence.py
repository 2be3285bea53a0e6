"""Presence: which halls are online (their kiosks' and hall screens' pings) and how many watch each session.

- A hall is online when one of its devices pinged within conference.halls.HALL_EXPIRY (on any hub: a ping is announced
  on the bus at most every 2 × PRESENCE_SECONDS, and written to the store every SEEN_PERSIST_SECONDS, so
  a hub that starts later knows it too); unknown when none ever did, offline otherwise.
- A session's viewers are the distinct participants subscribed to its viewer topic on this hub, plus
  the counts the other hubs announce every VIEWERS_PUBLISH_SECONDS (forgotten after VIEWERS_EXPIRY).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from conference.halls import Hall, connection_at
from conference.service import ConferenceService
from web.live.connections import spawn
from web.live.topics import LiveSession

log = logging.getLogger(__name__)

PRESENCE_SECONDS = 2.0
SEEN_PERSIST_SECONDS = 30.0
VIEWERS_PUBLISH_SECONDS = 5.0
VIEWERS_EXPIRY = 15.0

_NEVER = datetime.min.replace(tzinfo=UTC)


class Presence:
    """The halls seen and the viewer counts, for every session this hub serves. `announce(hall_id, at)`
    tells the other hubs of a hall seen here."""

    def __init__(self, conference: ConferenceService, announce: Callable[[int, datetime], None]) -> None:
        self.conference = conference
        self.announce = announce
        self.hall_seen: dict[int, datetime] = {}
        self._announced: dict[int, float] = {}
        self._persisted: dict[int, float] = {}
        self._remote_viewers: dict[int, dict[str, tuple[int, float]]] = {}  # session -> hub -> (count, expires)

    # -- halls --------------------------------------------------------------------------------------
    def saw_hall(self, hall_id: int, at: datetime) -> None:
        """A device of the hall pinged this hub."""
        self.hall_seen[hall_id] = at
        now = time.monotonic()
        if now - self._announced.get(hall_id, 0) >= PRESENCE_SECONDS * 2:
            self._announced[hall_id] = now
            self.announce(hall_id, at)
        if now - self._persisted.get(hall_id, 0) >= SEEN_PERSIST_SECONDS:
            self._persisted[hall_id] = now
            spawn(self._persist(hall_id, at))

    def heard_hall(self, hall_id: int, at: datetime) -> None:
        """Another hub (or the store) saw the hall at `at`."""
        self.hall_seen[hall_id] = max(at, self.hall_seen.get(hall_id, _NEVER))

    def loaded(self, halls: Iterable[Hall]) -> None:
        """The halls as the store last saw them."""
        for h in halls:
            if h.last_seen_at is not None:
                self.heard_hall(h.id, h.last_seen_at)

    async def _persist(self, hall_id: int, at: datetime) -> None:
        try:
            await self.conference.store.set_hall_seen(hall_id, at)
        except Exception as e:
            log.warning("could not record hall %s heartbeat: %s", hall_id, e)

    def update(self, live: LiveSession) -> None:
        """The connection state of each of the session's halls, into its tally."""
        now = datetime.now(UTC)
        for hall_id in live.tally.halls:
            seen = self.hall_seen.get(hall_id)
            live.tally.connect(hall_id, connection_at(seen, now).value, seen)

    # -- viewers ------------------------------------------------------------------------------------
    @staticmethod
    def local_viewers(live: LiveSession) -> int:
        """The distinct participants subscribed to the session's viewer topic on this hub."""
        state = live.topics.get(f"session:{live.session_id}/viewer")
        if state is None:
            return 0
        return len({c.user.person_id or -c.user.id for c in state.subscribers if c.user is not None})

    def viewers(self, live: LiveSession) -> int:
        """The session's viewers on every hub."""
        now = time.monotonic()
        remote = sum(n for n, expires in self._remote_viewers.get(live.session_id, {}).values() if expires > now)
        return self.local_viewers(live) + remote

    def heard_viewers(self, hub_id: str, counts: dict[int, int]) -> None:
        """Another hub's viewer counts, per session."""
        expires = time.monotonic() + VIEWERS_EXPIRY
        for session_id, n in counts.items():
            self._remote_viewers.setdefault(session_id, {})[hub_id] = (n, expires)
