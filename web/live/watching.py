"""Online attendance on the live hub: viewer pings in, watch time to the store, check-ins and flags out.

The rules are attendance/online.py's (pure); this carries them out. A ping counts only while the session is
on air and the viewer's own media flows (`not_counted`): the media facts (web/media/viewing.py, shared by
every hub) are read for the viewers pinging here every ONLINE_CHECK_SECONDS, and the ping's answer says
whether it counted, and why not. Every ONLINE_CHECK_SECONDS the
viewers who watched long enough (on any hub) are checked in present online and the checked-in viewers
who went silent are looked at for "left early"; every WATCH_STORE_SECONDS what was watched here goes to
the store, which sums it over every hub. While the store fails an online check-in, the others wait
ONLINE_RETRY_SECONDS instead of each failing in turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from attendance.checkins import Method
from attendance.ledger import Ledger
from attendance.online import NotCounted, Watching, left_early, not_counted
from attendance.rules import Scan
from conference.service import ConferenceService
from web.live.connections import Conn, spawn
from web.live.protocol import HEARTBEAT_S, TopicKind, parse_topic
from web.media.viewing import Facts, Key, MediaFacts, MemoryFacts

log = logging.getLogger(__name__)

ONLINE_CHECK_SECONDS = 1.0
WATCH_STORE_SECONDS = 10.0
ONLINE_RETRY_SECONDS = 3.0


class OnlineAttendance:
    """The participants watching on this hub (`watching`), and what their watching makes of them."""

    def __init__(self, ledger: Ledger, conference: ConferenceService, writer: str,
                 online_after_seconds: float, viewing: MediaFacts | None = None) -> None:
        self.ledger = ledger
        self.conference = conference
        self.writer = writer  # this hub's name in the store's watch time (its epoch)
        self.watching = Watching(online_after_seconds, HEARTBEAT_S)
        self.viewing = viewing if viewing is not None else MemoryFacts()
        self.facts = Facts()  # what `viewing` said last about the viewers pinging here
        self.asking: dict[Key, float] = {}  # (session, user) pinging here -> when last
        self._paused_until = 0.0  # online check-ins wait after the store failed one

    def pinged(self, conn: Conn, since_last_ping: float, now: float) -> dict[str, object]:
        """A ping of `conn`: a participant's counts as watching each session whose viewer topic it reads, while
        that session is on air and their media flows. Returns what the pong says of it: nothing for a
        connection reading no viewer topic, else `counted` (and `reason` when it did not count)."""
        user = conn.user
        if user is None or user.person_id is None:
            return {}
        reasons: list[NotCounted | None] = []
        for name in conn.topics:
            topic = parse_topic(name)
            if topic is None or topic.kind is not TopicKind.VIEWER:
                continue
            key = (topic.session_id, user.id)
            self.asking[key] = now
            reason = not_counted(topic.session_id in self.facts.on_air, key in self.facts.flowing)
            if reason is None:
                self.watching.watched(topic.session_id, user.person_id, since_last_ping, now)
            reasons.append(reason)
        if not reasons:
            return {}
        if None in reasons:
            return {"counted": True}
        return {"counted": False, "reason": str(reasons[0])}

    async def read_facts(self, now: float) -> None:
        """What `viewing` says now of the viewers who pinged here lately (the others forgotten)."""
        limit = now - self.watching.left_after
        self.asking = {k: at for k, at in self.asking.items() if at >= limit}
        try:
            self.facts = await self.viewing.read(list(self.asking))
        except Exception as e:  # the facts keep their last answer meanwhile
            log.warning("media facts not read: %s", e)

    async def run(self) -> None:
        """The loop: check-ins of viewers due, left-early flags of viewers gone, watch time stored."""
        stored_at = time.monotonic()
        while True:
            await asyncio.sleep(ONLINE_CHECK_SECONDS)
            now = time.monotonic()
            await self.read_facts(now)
            if now - stored_at >= WATCH_STORE_SECONDS:
                stored_at = now
                await self.store_watch_time()
            for session_id, person_id in self.watching.due() if now >= self._paused_until else ():
                spawn(self._check_in(session_id, person_id))
            for session_id, person_id in self.watching.gone(now):
                spawn(self._left(session_id, person_id))

    async def store_watch_time(self) -> None:
        """What was watched here since the last time, added to the store's totals (kept for the next
        round when the store fails)."""
        taken = self.watching.take()
        if not taken:
            return
        try:
            self.watching.stored(await self.ledger.watched(taken, self.writer))
        except Exception as e:  # the store is down: the seconds wait for the next round
            log.warning("watch time of %s viewers not stored: %s", len(taken), e)
            self.watching.restore(taken)

    async def _check_in(self, session_id: int, person_id: int) -> None:
        scan = Scan(session_id, None, Method.ONLINE, datetime.now(UTC), nonce=f"online-{session_id}-{person_id}")
        try:
            verdict = await self.ledger.scan(scan, person_id=person_id)
        except Exception as e:  # the store is down: try again in a while
            if time.monotonic() >= self._paused_until:
                log.warning("online check-ins wait %.0f s: %s", ONLINE_RETRY_SECONDS, e)
            self._paused_until = time.monotonic() + ONLINE_RETRY_SECONDS
            self.watching.retry(session_id, person_id)
            return
        if verdict.accepted:
            self.watching.checked_in(session_id, person_id)

    async def _left(self, session_id: int, person_id: int) -> None:
        try:
            session = await self.conference.store.get_session(session_id)
            await self.store_watch_time()  # so that the last writer is another hub only if they moved there
            moved = await self.ledger.watching_elsewhere(session_id, person_id, self.writer)
            if left_early(datetime.now(UTC), session.ends_at, moved):
                await self.ledger.flag_left_early(session_id, person_id)
        except Exception as e:
            log.warning("left-early flag of person %s failed: %s", person_id, e)
