"""The check-in ledger: one service call checks a person in, exactly once, durably.

- The verdict comes from the pure rules (`attendance.rules.judge`) on facts gathered here: the
  credential, the session's rules, the person's invitation, their current check-in.
- Writes go through one writer task that commits many scans per transaction (group commit). A
  caller is answered only after its scan is committed: an acknowledged check-in survives a crash.
- Two scans of one person in one process are serialised; across processes the database's primary
  key decides, and the loser is answered as a repeat.
- The same nonce twice is the same answer, also across processes (the scan event's unique nonce).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from attendance.checkins import CheckIn, Method, Outcome, Refusal, ScanEvent
from attendance.credentials import CredentialRefused
from attendance.errors import AttendanceError, InvalidRecord
from attendance.headcounts import Headcount
from attendance.issuer import Credentials
from attendance.online import with_left_early
from attendance.rules import Scan, SessionRules, Verdict, judge, mark_absent, may_undo, refuse
from attendance.store import BatchResult, LedgerStore, LedgerWrite

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
NONCE_MAX = 64
BATCH_MAX = 500
RECENT_NONCES = 200_000


def refused(e: BaseException) -> bool:
    """The database refused what was sent (a value it cannot store), as opposed to being unreachable or
    busy (anything else: worth trying again)."""
    if isinstance(e, (DataError, IntegrityError)):
        return True
    return isinstance(e, StatementError) and not isinstance(e, DBAPIError) and \
        isinstance(e.orig, (ValueError, OverflowError, TypeError))  # a value no column type could bind


class Unavailable(AttendanceError):
    """The ledger could not commit (database down or restarting): nothing was recorded; retry."""

    code = "unavailable"


class Facts(Protocol):
    """What the ledger needs from outside the attendance package (the web layer provides it)."""

    async def session_rules(self, session_id: int) -> SessionRules:
        """The session's rules; raises a NotFound for an unknown session."""

    async def expected_hall(self, conference_id: int, person_id: int) -> int | None:
        """The hall the person is invited to for the conference, or None when not invited."""


K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[K, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass(frozen=True)
class Committed:
    """A committed change of one person's status in a session; `checkin` None when it was undone."""

    session_id: int
    person_id: int
    checkin: CheckIn | None


Listener = Callable[[list[Committed | Headcount]], None]
Observer = Callable[[list[tuple[str, str]], float], None]  # (outcome, method) of each scan recorded; commit seconds


@dataclass
class _Job:
    write: LedgerWrite
    verdict: Verdict
    done: asyncio.Future[Verdict]


class Ledger:
    def __init__(self, store: LedgerStore, credentials: Credentials, facts: Facts, clock: Clock) -> None:
        self.store = store
        self.credentials = credentials
        self.facts = facts
        self.clock = clock
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._present: dict[int, dict[int, CheckIn]] = {}
        self._session_locks: dict[int, asyncio.Lock] = {}
        self._person_locks: KeyedLocks[tuple[int, int]] = KeyedLocks()
        self._nonces: OrderedDict[str, Verdict] = OrderedDict()
        self._nonce_locks: KeyedLocks[str] = KeyedLocks()
        self.batches = 0
        self.listeners: list[Listener] = []  # told of every committed change, after the commit
        self.observers: list[Observer] = []  # told of each batch committed (metrics: web/metrics.py)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="ledger-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop the writer."""
        if self._writer is None:
            return
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None

    # -- the calls ----------------------------------------------------------------------------------
    async def scan(self, scan: Scan, credential: str | None = None, person_id: int | None = None) -> Verdict:
        """Check a person in by credential text (QR) or by id (manual pick, face, online).

        Returns the verdict once it is committed: ACCEPTED with the new check-in, REPEAT with the
        first one, or REFUSED with a reason from the closed list. Raises Unavailable when the database
        cannot commit, InvalidRecord for a malformed request, NotFound for an unknown session.
        """
        if (credential is None) == (person_id is None):
            raise InvalidRecord("give a credential or a person, not both", field="credential")
        if scan.nonce is not None and not 0 < len(scan.nonce) <= NONCE_MAX:
            raise InvalidRecord(f"a nonce has 1 to {NONCE_MAX} characters", field="nonce")
        if scan.nonce is None:
            return await self._scan(scan, credential, person_id)
        remembered = self._nonces.get(scan.nonce)
        if remembered is not None:
            return remembered
        async with self._nonce_locks.hold(scan.nonce):
            remembered = self._nonces.get(scan.nonce)
            if remembered is None:
                remembered = await self._scan(scan, credential, person_id)
                self._remember(scan.nonce, remembered)
            return remembered

    async def upload(self, scans: list[tuple[Scan, str | None, int | None]]) -> list[Verdict]:
        """An offline kiosk's queue: each item is recorded (flagged when a rule was broken), in order."""
        return list(await asyncio.gather(*(self.scan(s, c, p) for s, c, p in scans)))

    async def mark_absent(self, rules_session: int, person_id: int, hall_id: int | None, reason: str,
                          operator_user_id: int) -> CheckIn:
        rules = await self.facts.session_rules(rules_session)
        async with self._person_locks.hold((rules.session_id, person_id)):
            present = await self._present_map(rules.session_id)
            existing = present.get(person_id) or await self.store.checkin(rules.session_id, person_id)
            checkin = mark_absent(rules, person_id, hall_id, reason, operator_user_id, self.clock(), existing)
            await self._commit(self.store.put_checkin(checkin))
            present.pop(person_id, None)
            self._notify([Committed(checkin.session_id, person_id, checkin)])
            return checkin

    async def undo(self, session_id: int, person_id: int, device_id: int | None, operator_user_id: int | None
                   ) -> CheckIn:
        """Take back a mistaken check-in: only its own device or operator, only for a few minutes."""
        async with self._person_locks.hold((session_id, person_id)):
            present = await self._present_map(session_id)
            existing = present.get(person_id) or await self.store.checkin(session_id, person_id)
            if existing is None or not may_undo(existing, device_id, operator_user_id, self.clock()):
                raise InvalidRecord("only the device that made a check-in may undo it, within 5 minutes",
                                    field="person_id")
            await self._commit(self.store.delete_checkin(session_id, person_id))
            present.pop(person_id, None)
            self._notify([Committed(session_id, person_id, None)])
            return existing

    async def flag_left_early(self, session_id: int, person_id: int) -> CheckIn | None:
        """Về sớm: flag a present person who left before the session ended (None if not present)."""
        async with self._person_locks.hold((session_id, person_id)):
            existing = await self.store.checkin(session_id, person_id)
            flagged = with_left_early(existing)
            if flagged is None:
                return existing
            await self._commit(self.store.put_checkin(flagged))
            present = self._present.get(session_id)
            if present is not None:
                present[person_id] = flagged
            self._notify([Committed(session_id, person_id, flagged)])
            return flagged

    async def headcount(self, h: Headcount) -> None:
        await self._commit(self.store.put_headcount(h))
        self._notify([h])

    async def current(self, session_id: int, person_id: int) -> CheckIn | None:
        """The person's current record of the session (present, absent), if any."""
        present = await self._present_map(session_id)
        return present.get(person_id) or await self.store.checkin(session_id, person_id)

    async def checkins(self, session_id: int) -> list[CheckIn]:
        return await self.store.checkins_of(session_id)

    async def watched(self, seconds: dict[tuple[int, int], float], writer: str) -> dict[tuple[int, int], float]:
        """Add participants' watched seconds per (session, person), as counted by hub `writer`; their totals
        over every hub."""
        return await self.store.add_watch_time(seconds, self.clock(), writer)

    async def watching_elsewhere(self, session_id: int, person_id: int, writer: str) -> bool:
        """Whether the last hub to add to the person's watch time of the session was another than `writer`."""
        last = await self.store.watch_writer(session_id, person_id)
        return last is not None and last != writer

    async def statuses(self, session_id: int) -> dict[int, str]:
        """person id -> status of everyone with a check-in record in the session."""
        return await self.store.statuses_of(session_id)

    # -- internals ----------------------------------------------------------------------------------
    def _notify(self, changes: list[Committed | Headcount]) -> None:
        for listener in self.listeners:
            try:
                listener(changes)
            except Exception:  # a listener's failure never undoes or delays a commit
                log.exception("ledger listener failed")

    def _remember(self, nonce: str, verdict: Verdict) -> None:
        self._nonces[nonce] = verdict
        while len(self._nonces) > RECENT_NONCES:
            self._nonces.popitem(last=False)

    async def _present_map(self, session_id: int) -> dict[int, CheckIn]:
        cached = self._present.get(session_id)
        if cached is not None:
            return cached
        async with self._session_locks.setdefault(session_id, asyncio.Lock()):
            if session_id not in self._present:
                self._present[session_id] = {c.person_id: c for c in await self.store.checkins_of(session_id)
                                             if c.present}
            return self._present[session_id]

    async def _commit(self, work: Awaitable[None]) -> None:
        try:
            await work
        except (OSError, DBAPIError) as e:
            raise Unavailable(f"the database could not record this; try again ({type(e).__name__})") from None

    async def _scan(self, scan: Scan, credential: str | None, person_id: int | None) -> Verdict:
        rules = await self.facts.session_rules(scan.session_id)
        credential_id = None
        if credential is not None:
            try:
                issued = await self.credentials.resolve(credential, rules.conference_id)
            except CredentialRefused as refused:
                return await self._record(scan, refuse(refused.reason), None)
            person_id, credential_id = issued.person_id, issued.credential_id
        assert person_id is not None
        scan = replace(scan, credential_id=credential_id)
        async with self._person_locks.hold((scan.session_id, person_id)):
            present = await self._present_map(scan.session_id)
            expected = await self.facts.expected_hall(rules.conference_id, person_id)
            verdict = judge(rules, scan, person_id, expected, present.get(person_id))
            verdict = await self._record(scan, verdict, person_id)
            if verdict.checkin is not None and verdict.checkin.present:
                present[person_id] = verdict.checkin
            return verdict

    async def _record(self, scan: Scan, verdict: Verdict, person_id: int | None) -> Verdict:
        event = ScanEvent(scan.session_id, scan.hall_id, scan.method, verdict.outcome, scan.server_time,
                          verdict.reason, person_id, scan.credential_id, scan.device_id, scan.kiosk_time,
                          scan.nonce, scan.offline)
        write = LedgerWrite(event, verdict.checkin if verdict.outcome is Outcome.ACCEPTED else None)
        job = _Job(write, verdict, asyncio.get_running_loop().create_future())
        await self.start()
        self._queue.put_nowait(job)
        return await job.done

    async def _write_loop(self) -> None:
        while True:
            jobs = [await self._queue.get()]
            while len(jobs) < BATCH_MAX and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            started = time.perf_counter()
            try:
                result = await self.store.write([j.write for j in jobs])
            except Exception as e:  # the whole batch failed: nothing of it was committed
                log.warning("ledger batch of %d failed: %s", len(jobs), e)
                if not refused(e) or len(jobs) == 1:
                    self._fail(jobs, e)
                else:  # the database refused something in it: write them one by one, so only that fails
                    for job in jobs:
                        await self._write_alone(job)
                continue
            self.batches += 1
            log.debug("ledger batch of %d in %.1f ms", len(jobs), (time.perf_counter() - started) * 1000)
            await self._answer(jobs, result, time.perf_counter() - started)

    async def _write_alone(self, job: _Job) -> None:
        started = time.perf_counter()
        try:
            result = await self.store.write([job.write])
        except Exception as e:
            log.warning("ledger write refused: %s", e)
            self._fail([job], e)
            return
        self.batches += 1
        await self._answer([job], result, time.perf_counter() - started)

    @staticmethod
    def _fail(jobs: list[_Job], e: Exception) -> None:
        error: AttendanceError = InvalidRecord("the database cannot store this scan as sent") if refused(e) \
            else Unavailable("the database could not record this scan; try again")
        for job in jobs:
            if not job.done.done():
                job.done.set_exception(error)

    async def _answer(self, jobs: list[_Job], result: BatchResult, seconds: float = 0.0) -> None:
        made = [c for c in (j.write.checkin for j in jobs) if c and (c.session_id, c.person_id) in result.inserted]
        if made:
            self._notify([Committed(c.session_id, c.person_id, c) for c in made])
        originals = await self._originals(sorted(result.known_nonces)) if result.known_nonces else {}
        for job in jobs:
            if job.done.done():
                continue
            nonce = job.write.event.nonce
            if nonce is not None and nonce in result.known_nonces:
                job.done.set_result(originals.get(nonce, job.verdict))
                continue
            checkin = job.write.checkin
            if checkin is not None and (checkin.session_id, checkin.person_id) in result.lost_race:
                first = result.lost_race[(checkin.session_id, checkin.person_id)]
                job.done.set_result(Verdict(Outcome.REPEAT, checkin=first, person_id=checkin.person_id))
                continue
            job.done.set_result(job.verdict)
        self._observe([(Outcome.REPEAT.value if j.write.checkin is not None and (j.write.checkin.session_id,
                        j.write.checkin.person_id) in result.lost_race else j.verdict.outcome.value,
                        j.write.event.method.value) for j in jobs if j.write.event.nonce not in result.known_nonces],
                      seconds)

    def _observe(self, outcomes: list[tuple[str, str]], seconds: float) -> None:
        for observer in self.observers:
            try:
                observer(outcomes, seconds)
            except Exception:  # metrics never stand in the way of a commit
                log.exception("ledger observer failed")

    async def _originals(self, nonces: list[str]) -> dict[str, Verdict]:
        """The answers first given to nonces recorded earlier (perhaps by another process)."""
        out: dict[str, Verdict] = {}
        for nonce, event in (await self.store.events_by_nonce(nonces)).items():
            checkin = None
            if event.person_id is not None and event.outcome is not Outcome.REFUSED:
                checkin = await self.store.checkin(event.session_id, event.person_id)
            out[nonce] = Verdict(event.outcome, event.reason, checkin, event.person_id)
        return out


__all__ = ["Facts", "Ledger", "Method", "Refusal", "Scan", "SessionRules", "Unavailable", "Verdict"]
