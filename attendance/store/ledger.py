"""The attendance store, its ledger part: signing keys, issued credentials, check-ins, scan events,
headcounts and watch time. The ledger's scans are written in batches, many in one transaction (group
commit); a check-in that lost a race to another process is recorded as a repeat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from attendance import tables as t
from attendance.checkins import (
    PRESENT,
    CheckIn,
    IssuedCredential,
    Method,
    Outcome,
    Refusal,
    ReviewState,
    ScanEvent,
    Status,
)
from attendance.headcounts import Headcount
from attendance.keys import SigningKey


def _key(r: Row[Any]) -> SigningKey:
    return SigningKey(r.key_id, r.public_key, r.sealed_private_key, r.created_at, r.active, r.withdrawn_at)


def _credential(r: Row[Any]) -> IssuedCredential:
    return IssuedCredential(r.credential_id, r.person_id, r.key_id, r.conference_id, r.valid_from, r.valid_until,
                            r.issued_at, r.revoked_at)


def _checkin(r: Row[Any]) -> CheckIn:
    return CheckIn(r.session_id, r.person_id, Status(r.status), Method(r.method), r.hall_id, r.server_time,
                   r.kiosk_time, r.device_id, r.operator_user_id, r.nonce, r.face_score, ReviewState(r.review),
                   r.late, r.left_early, r.wrong_hall, r.absence_reason)


def _event(r: Row[Any]) -> ScanEvent:
    return ScanEvent(r.session_id, r.hall_id, Method(r.method), Outcome(r.outcome), r.server_time,
                     Refusal(r.reason) if r.reason else None, r.person_id, r.credential_id, r.device_id,
                     r.kiosk_time, r.nonce, r.offline)


def checkin_values(c: CheckIn) -> dict[str, Any]:
    return {"session_id": c.session_id, "person_id": c.person_id, "status": c.status.value, "method": c.method.value,
            "hall_id": c.hall_id, "server_time": c.server_time, "kiosk_time": c.kiosk_time, "device_id": c.device_id,
            "operator_user_id": c.operator_user_id, "nonce": c.nonce, "face_score": c.face_score,
            "review": c.review.value, "late": c.late, "left_early": c.left_early, "wrong_hall": c.wrong_hall,
            "absence_reason": c.absence_reason}


def event_values(e: ScanEvent) -> dict[str, Any]:
    return {"session_id": e.session_id, "hall_id": e.hall_id, "method": e.method.value, "outcome": e.outcome.value,
            "reason": e.reason.value if e.reason else None, "person_id": e.person_id,
            "credential_id": e.credential_id, "device_id": e.device_id, "server_time": e.server_time,
            "kiosk_time": e.kiosk_time, "nonce": e.nonce, "offline": e.offline}


@dataclass(frozen=True)
class LedgerWrite:
    """One scan to record: its event, and the check-in it makes when accepted."""

    event: ScanEvent
    checkin: CheckIn | None = None


@dataclass
class BatchResult:
    """What one committed batch did. A check-in that lost a race (the person was checked in by another
    process first) is recorded as a repeat; a scan whose nonce was already recorded is skipped whole."""

    inserted: set[tuple[int, int]] = field(default_factory=set)
    lost_race: dict[tuple[int, int], CheckIn] = field(default_factory=dict)
    known_nonces: set[str] = field(default_factory=set)


class LedgerStore:
    """The ledger's writes, batched: many scans in one transaction (group commit)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    # -- signing keys and credentials ---------------------------------------------------------------
    async def keys(self) -> list[SigningKey]:
        async with self.engine.connect() as c:
            return [_key(r) for r in await c.execute(select(t.signing_keys).order_by(t.signing_keys.c.key_id))]

    async def add_key(self, key: SigningKey) -> bool:
        """Store a new active key (the others stop signing); False when its id was taken meanwhile."""
        try:
            async with self.engine.begin() as c:
                await c.execute(update(t.signing_keys).values(active=False))
                await c.execute(insert(t.signing_keys).values(
                    key_id=key.key_id, public_key=key.public_key, sealed_private_key=key.sealed_private_key,
                    created_at=key.created_at, active=key.active, withdrawn_at=None))
        except IntegrityError:
            return False
        return True

    async def reseal_keys(self, reseal: Callable[[bytes], bytes | None]) -> int:
        """Seal every private key again where `reseal` gives a new blob (None: keep); how many changed."""
        changed = 0
        async with self.engine.begin() as c:
            for row in (await c.execute(select(t.signing_keys.c.key_id, t.signing_keys.c.sealed_private_key))).all():
                new = reseal(row.sealed_private_key)
                if new is not None:
                    await c.execute(update(t.signing_keys).where(t.signing_keys.c.key_id == row.key_id)
                                    .values(sealed_private_key=new))
                    changed += 1
        return changed

    async def withdraw_key(self, key_id: int, now: datetime) -> None:
        async with self.engine.begin() as c:
            await c.execute(update(t.signing_keys).where(t.signing_keys.c.key_id == key_id)
                            .values(withdrawn_at=now, active=False))

    async def add_credential(self, cred: IssuedCredential, replace_person_credentials: bool) -> None:
        """Record a new credential; with `replace_person_credentials` the person's others are revoked with it."""
        async with self.engine.begin() as c:
            if replace_person_credentials:
                await c.execute(update(t.credentials).where(
                    t.credentials.c.person_id == cred.person_id, t.credentials.c.conference_id == cred.conference_id,
                    t.credentials.c.revoked_at.is_(None)).values(revoked_at=cred.issued_at))
            await c.execute(insert(t.credentials).values(
                credential_id=cred.credential_id, person_id=cred.person_id, key_id=cred.key_id,
                conference_id=cred.conference_id, valid_from=cred.valid_from, valid_until=cred.valid_until,
                issued_at=cred.issued_at, revoked_at=None))

    async def add_credentials(self, creds: list[IssuedCredential]) -> None:
        async with self.engine.begin() as c:
            for i in range(0, len(creds), 2000):
                await c.execute(insert(t.credentials), [
                    {"credential_id": x.credential_id, "person_id": x.person_id, "key_id": x.key_id,
                     "conference_id": x.conference_id, "valid_from": x.valid_from, "valid_until": x.valid_until,
                     "issued_at": x.issued_at, "revoked_at": None} for x in creds[i:i + 2000]])

    async def credential(self, credential_id: str) -> IssuedCredential | None:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.credentials).where(t.credentials.c.credential_id == credential_id))).first()
        return _credential(row) if row else None

    async def credentials_of(self, person_ids: list[int]) -> list[IssuedCredential]:
        out: list[IssuedCredential] = []
        async with self.engine.connect() as c:
            for i in range(0, len(person_ids), 2000):
                rows = await c.execute(select(t.credentials).where(
                    t.credentials.c.person_id.in_(person_ids[i:i + 2000])).order_by(t.credentials.c.issued_at))
                out.extend(_credential(r) for r in rows)
        return out

    async def credentials_changed_since(self, since: datetime | None) -> list[IssuedCredential]:
        stmt = select(t.credentials)
        if since is not None:
            stmt = stmt.where((t.credentials.c.issued_at >= since) | (t.credentials.c.revoked_at >= since))
        async with self.engine.connect() as c:
            return [_credential(r) for r in await c.execute(stmt)]

    async def revoke_credential(self, credential_id: str, now: datetime) -> bool:
        async with self.engine.begin() as c:
            done = await c.execute(update(t.credentials).where(
                t.credentials.c.credential_id == credential_id, t.credentials.c.revoked_at.is_(None))
                .values(revoked_at=now))
        return bool(done.rowcount)

    # -- check-ins ----------------------------------------------------------------------------------
    async def checkins_of(self, session_id: int) -> list[CheckIn]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.checkins).where(t.checkins.c.session_id == session_id))
            return [_checkin(r) for r in rows]

    async def statuses_of(self, session_id: int) -> dict[int, str]:
        """Each checked-in person's status: two columns, for counting (a province's 70,000 rows in a
        fraction of what whole check-ins take)."""
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.checkins.c.person_id, t.checkins.c.status)
                                   .where(t.checkins.c.session_id == session_id))
            return {person: status for person, status in rows}

    async def last_event(self) -> int:
        """The id of the newest scan event (0: none yet): where a reader of `accepted_after` begins."""
        async with self.engine.connect() as c:
            return int((await c.execute(select(func.max(t.scan_events.c.id)))).scalar() or 0)

    async def accepted_after(self, after: int, session_ids: list[int], limit: int = 20_000
                             ) -> list[tuple[int, CheckIn]]:
        """The check-in of each accepted scan recorded after scan event `after`, in these sessions, oldest
        first, each with its event's id (a hub whose bus is down reads them: web/live/feed.py). Event ids
        grow, but on PostgreSQL a transaction may commit after one that took a larger id: a reader reads
        the last few seconds again. The check-in as it is now (an undone one is not there)."""
        e, ci = t.scan_events.c, t.checkins.c
        stmt = (select(e.id.label("event_id"), *t.checkins.c)
                .select_from(t.scan_events.join(t.checkins, and_(ci.session_id == e.session_id,
                                                                 ci.person_id == e.person_id)))
                .where(e.id > after, e.outcome == Outcome.ACCEPTED.value, e.session_id.in_(session_ids))
                .order_by(e.id).limit(limit))
        async with self.engine.connect() as c:
            return [(r.event_id, _checkin(r)) for r in await c.execute(stmt)]

    async def checkin(self, session_id: int, person_id: int) -> CheckIn | None:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.checkins).where(
                t.checkins.c.session_id == session_id, t.checkins.c.person_id == person_id))).first()
        return _checkin(row) if row else None

    async def events_by_nonce(self, nonces: list[str]) -> dict[str, ScanEvent]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.scan_events).where(t.scan_events.c.nonce.in_(nonces)))
            return {r.nonce: _event(r) for r in rows}

    async def scan_events(self, session_id: int, limit: int = 1000) -> list[ScanEvent]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.scan_events).where(t.scan_events.c.session_id == session_id)
                                   .order_by(t.scan_events.c.id.desc()).limit(limit))
            return [_event(r) for r in rows]

    async def scan_summary(self, session_id: int) -> list[tuple[int | None, Method, Outcome, Refusal | None, int]]:
        """Every scan attempt of a session, counted by (hall, method, outcome, refusal reason): for reports."""
        e = t.scan_events.c
        stmt = (select(e.hall_id, e.method, e.outcome, e.reason, func.count().label("n"))
                .where(e.session_id == session_id).group_by(e.hall_id, e.method, e.outcome, e.reason))
        async with self.engine.connect() as c:
            return [(r.hall_id, Method(r.method), Outcome(r.outcome), Refusal(r.reason) if r.reason else None,
                     int(r.n)) for r in await c.execute(stmt)]

    async def operated_checkins(self, since: datetime | None = None, until: datetime | None = None,
                                limit: int = 200) -> list[CheckIn]:
        """Check-ins and absences recorded by a person at a desk (an operator), newest first: the audit view."""
        cond: list[ColumnElement[bool]] = [t.checkins.c.operator_user_id.is_not(None)]
        if since is not None:
            cond.append(t.checkins.c.server_time >= since)
        if until is not None:
            cond.append(t.checkins.c.server_time < until)
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.checkins).where(*cond).order_by(t.checkins.c.server_time.desc())
                                   .limit(limit))
            return [_checkin(r) for r in rows]

    async def write(self, writes: list[LedgerWrite]) -> BatchResult:
        """Record a batch of scans in one transaction; returns once it is committed."""
        result = BatchResult()
        async with self.engine.begin() as c:
            nonces = [w.event.nonce for w in writes if w.event.nonce]
            if nonces:
                known = await c.execute(select(t.scan_events.c.nonce).where(t.scan_events.c.nonce.in_(nonces)))
                result.known_nonces = {r.nonce for r in known}
            fresh = [w for w in writes if not (w.event.nonce and w.event.nonce in result.known_nonces)]
            new = [checkin_values(w.checkin) for w in fresh if w.checkin is not None]
            if new:
                # A presence replaces an absence (a delegate marked away who arrives after all), never
                # another presence: the first check-in stays, the later one is a repeat.
                upsert = self._insert(t.checkins)
                stmt = upsert.on_conflict_do_update(
                    index_elements=["session_id", "person_id"],
                    set_={col: upsert.excluded[col] for col in new[0] if col not in ("session_id", "person_id")},
                    where=and_(*(t.checkins.c.status != literal(s.value) for s in PRESENT)),
                ).returning(t.checkins.c.session_id, t.checkins.c.person_id)
                rows = await c.execute(stmt, new)
                result.inserted = {(r.session_id, r.person_id) for r in rows}
            lost = [w.checkin for w in fresh
                    if w.checkin is not None and (w.checkin.session_id, w.checkin.person_id) not in result.inserted]
            for ci in lost:
                row = (await c.execute(select(t.checkins).where(
                    t.checkins.c.session_id == ci.session_id, t.checkins.c.person_id == ci.person_id))).first()
                if row is not None:
                    result.lost_race[(ci.session_id, ci.person_id)] = _checkin(row)
            events = []
            for w in fresh:
                event = w.event
                if w.checkin is not None and (w.checkin.session_id, w.checkin.person_id) in result.lost_race:
                    event = replace(event, outcome=Outcome.REPEAT)
                events.append(event_values(event))
            if events:
                await c.execute(self._insert(t.scan_events).on_conflict_do_nothing(index_elements=["nonce"]),
                                events)
        return result

    async def put_checkin(self, checkin: CheckIn) -> None:
        """Set a person's status for a session (absence, review), replacing any earlier row."""
        values = checkin_values(checkin)
        stmt = self._insert(t.checkins).values(values)
        async with self.engine.begin() as c:
            await c.execute(stmt.on_conflict_do_update(index_elements=["session_id", "person_id"], set_=values))

    async def delete_checkin(self, session_id: int, person_id: int) -> None:
        async with self.engine.begin() as c:
            await c.execute(delete(t.checkins).where(t.checkins.c.session_id == session_id,
                                                     t.checkins.c.person_id == person_id))

    async def put_headcount(self, h: Headcount) -> None:
        values = {"session_id": h.session_id, "hall_id": h.hall_id, "expected": h.expected, "present": h.present,
                  "absent_excused": h.absent_excused, "absent_unexcused": h.absent_unexcused,
                  "reported_by_user_id": h.reported_by_user_id, "reported_at": h.reported_at}
        stmt = self._insert(t.headcounts).values(values)
        async with self.engine.begin() as c:
            await c.execute(stmt.on_conflict_do_update(index_elements=["session_id", "hall_id"], set_=values))

    async def add_watch_time(self, seconds: dict[tuple[int, int], float], now: datetime, writer: str
                             ) -> dict[tuple[int, int], float]:
        """Add watched seconds per (session, person), from any number of hubs at once; the totals."""
        totals: dict[tuple[int, int], float] = {}
        rows = [{"session_id": s, "person_id": p, "seconds": n, "updated_at": now, "writer": writer}
                for (s, p), n in sorted(seconds.items())]  # one lock order for every hub: no deadlock
        async with self.engine.begin() as c:
            for i in range(0, len(rows), 500):
                stmt = self._insert(t.watch_time).values(rows[i:i + 500])
                stmt = stmt.on_conflict_do_update(
                    index_elements=["session_id", "person_id"],
                    set_={"seconds": t.watch_time.c.seconds + stmt.excluded.seconds,
                          "updated_at": stmt.excluded.updated_at, "writer": stmt.excluded.writer})
                result = await c.execute(stmt.returning(t.watch_time.c.session_id, t.watch_time.c.person_id,
                                                        t.watch_time.c.seconds))
                totals.update({(r.session_id, r.person_id): float(r.seconds) for r in result})
        return totals

    async def watch_writer(self, session_id: int, person_id: int) -> str | None:
        """The hub that last added to the person's watch time of the session."""
        async with self.engine.connect() as c:
            return (await c.execute(select(t.watch_time.c.writer).where(
                t.watch_time.c.session_id == session_id, t.watch_time.c.person_id == person_id))).scalar()

    async def headcounts_of(self, session_id: int) -> list[Headcount]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.headcounts).where(t.headcounts.c.session_id == session_id))
            return [Headcount(r.session_id, r.hall_id, r.expected, r.present, r.absent_excused, r.absent_unexcused,
                              r.reported_by_user_id, r.reported_at) for r in rows]
