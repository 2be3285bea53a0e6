"""The conference store: SQLAlchemy Core over an async engine (SQLite or PostgreSQL).

Rows go in and out as the pure records of this package; nothing here decides a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, Row, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from conference import tables as t
from conference.accounts import Role, User
from conference.audit import AuditAction, AuditEntry
from conference.conferences import Conference, ConferenceMode, Session
from conference.documents import Document, DocumentAccess
from conference.errors import Conflict, NotFound
from conference.feedback import Feedback, FeedbackKind, FeedbackState
from conference.halls import Channel, ConnectionStatus, Hall, HallRole, Invitation
from conference.people import MemberType, Person
from conference.text import fold
from conference.units import Unit, UnitType

CHUNK = 2000  # rows per executemany: well under every backend's parameter limit


async def _insert_id(c: AsyncConnection, stmt: Insert) -> int:
    table = stmt.table
    assert isinstance(table, Table)
    return int((await c.execute(stmt.returning(table.c.id))).scalar_one())


def _unit(r: Row[Any]) -> Unit:
    return Unit(r.id, r.code, r.name, UnitType(r.type), r.parent_id, r.valid_from, r.valid_to)


def _person(r: Row[Any]) -> Person:
    return Person(r.id, r.code, r.full_name, r.unit_id, r.position, MemberType(r.member_type), r.exempt)


def _user(r: Row[Any]) -> User:
    return User(r.id, r.username, r.display_name, Role(r.role), r.scope_unit_id, r.person_id, r.active,
                r.language)


def _conference(r: Row[Any]) -> Conference:
    return Conference(r.id, r.title, r.topic, ConferenceMode(r.mode), r.organiser_unit_id, r.created_at)


def _session(r: Row[Any]) -> Session:
    return Session(r.id, r.conference_id, r.title, r.starts_at, r.ends_at, r.checkin_opens_at,
                   r.checkin_closes_at, r.late_after_minutes)


def _hall(r: Row[Any]) -> Hall:
    done = frozenset(x for x in r.preflight_done.split(",") if x)
    return Hall(r.id, r.conference_id, r.unit_id, r.name, r.level, HallRole(r.role), Channel(r.channel),
                r.chair, r.technical_contact, r.expected_count, ConnectionStatus(r.connection),
                r.last_seen_at, done)


def _document(r: Row[Any]) -> Document:
    return Document(r.id, r.conference_id, r.title, r.number, r.issuer, r.issued_on, r.category,
                    DocumentAccess(r.access), r.sha256, r.content_type, r.size, r.created_at, r.created_by_user_id)


def _feedback(r: Row[Any]) -> Feedback:
    return Feedback(r.id, r.author_person_id, r.unit_id, r.conference_id, FeedbackKind(r.kind), r.content,
                    FeedbackState(r.state), r.created_at, r.answer, r.answered_at, r.handler_unit_id,
                    r.answered_by_user_id, r.updated_at)


def unit_values(u: Unit) -> dict[str, Any]:
    return {"code": u.code, "name": u.name, "type": u.type.value, "parent_id": u.parent_id,
            "valid_from": u.valid_from, "valid_to": u.valid_to}


def person_values(p: Person) -> dict[str, Any]:
    return {"code": p.code, "full_name": p.full_name, "search_key": p.search_key, "unit_id": p.unit_id,
            "position": p.position, "member_type": p.member_type.value, "exempt": p.exempt}


@dataclass(frozen=True)
class ImportCounts:
    units_added: int = 0
    units_changed: int = 0
    persons_added: int = 0
    persons_changed: int = 0

    @property
    def changed_anything(self) -> bool:
        return any((self.units_added, self.units_changed, self.persons_added, self.persons_changed))


class ConferenceStore:
    """Every read and write of the conference records. One instance per process, built in the lifespan."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- units -------------------------------------------------------------------------------------
    async def all_units(self) -> list[Unit]:
        async with self.engine.connect() as c:
            return [_unit(r) for r in await c.execute(select(t.units).order_by(t.units.c.id))]

    async def add_unit(self, unit: Unit) -> Unit:
        async with self.engine.begin() as c:
            try:
                uid = await _insert_id(c, insert(t.units).values(unit_values(unit)))
            except IntegrityError:
                raise Conflict(f"unit code {unit.code} already exists") from None
        return Unit(uid, unit.code, unit.name, unit.type, unit.parent_id, unit.valid_from, unit.valid_to)

    async def set_unit_validity(self, unit_id: int, valid_to: Any) -> None:
        async with self.engine.begin() as c:
            await c.execute(update(t.units).where(t.units.c.id == unit_id).values(valid_to=valid_to))

    # -- persons -----------------------------------------------------------------------------------
    async def get_person(self, person_id: int) -> Person:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.persons).where(t.persons.c.id == person_id))).first()
        if row is None:
            raise NotFound(f"person {person_id} not found")
        return _person(row)

    async def persons_by_code(self) -> dict[str, Person]:
        async with self.engine.connect() as c:
            return {r.code: _person(r) for r in await c.execute(select(t.persons))}

    async def persons_by_ids(self, ids: Iterable[int]) -> dict[int, Person]:
        out: dict[int, Person] = {}
        wanted = list(set(ids))
        async with self.engine.connect() as c:
            for i in range(0, len(wanted), CHUNK):
                rows = await c.execute(select(t.persons).where(t.persons.c.id.in_(wanted[i:i + CHUNK])))
                out.update((r.id, _person(r)) for r in rows)
        return out

    async def find_persons(
        self, unit_ids: Iterable[int] | None, query: str = "", limit: int = 50, offset: int = 0
    ) -> tuple[list[Person], int]:
        """Persons in the given units (None: every unit) whose folded name contains the folded query."""
        cond: list[ColumnElement[bool]] = []
        if unit_ids is not None:
            cond.append(t.persons.c.unit_id.in_(list(unit_ids)))
        if query.strip():
            cond.append(t.persons.c.search_key.contains(fold(query), autoescape=True))
        stmt = select(t.persons).where(*cond)
        async with self.engine.connect() as c:
            total = (await c.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
            rows = await c.execute(stmt.order_by(t.persons.c.search_key, t.persons.c.id).limit(limit)
                                   .offset(offset))
            return [_person(r) for r in rows], total

    async def count_persons(self) -> int:
        async with self.engine.connect() as c:
            return (await c.execute(select(func.count()).select_from(t.persons))).scalar_one()

    # -- roster import -----------------------------------------------------------------------------
    async def import_digest_seen(self, sha256: str) -> bool:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.roster_imports.c.id).where(t.roster_imports.c.sha256 == sha256)
                                   .limit(1))).first()
        return row is not None

    async def apply_roster(
        self,
        new_units: Sequence[Unit],
        changed_units: Sequence[Unit],
        parent_codes: dict[str, str | None],
        new_persons: Sequence[tuple[Person, str]],
        changed_persons: Sequence[tuple[Person, str]],
        record: dict[str, Any],
        progress: Any = None,
    ) -> ImportCounts:
        """Write a validated roster in one transaction: all of it, or (on any error) nothing.

        Units are given without resolved parent ids: `parent_codes` maps each unit code to its parent's
        code, resolved here after the new units exist. Persons come with their unit's code.
        """
        total = len(new_persons) + len(changed_persons)
        try:
            async with self.engine.begin() as c:
                for u in new_units:  # topologically ordered by the caller; few hundred rows
                    await c.execute(insert(t.units).values(unit_values(u) | {"parent_id": None}))
                ids = {r.code: r.id for r in await c.execute(select(t.units.c.code, t.units.c.id))}
                for u in [*new_units, *changed_units]:
                    parent = parent_codes.get(u.code)
                    values = unit_values(u) | {"parent_id": ids[parent] if parent else None}
                    await c.execute(update(t.units).where(t.units.c.code == u.code).values(values))
                done = 0
                for i in range(0, len(new_persons), CHUNK):
                    batch = [person_values(p) | {"unit_id": ids[code]} for p, code in new_persons[i:i + CHUNK]]
                    await c.execute(insert(t.persons), batch)
                    done += len(batch)
                    if progress:
                        progress(done, total)
                by_code = update(t.persons).where(t.persons.c.code == bindparam("match_code"))
                for i in range(0, len(changed_persons), CHUNK):
                    batch = [person_values(p) | {"unit_id": ids[code], "match_code": p.code}
                             for p, code in changed_persons[i:i + CHUNK]]
                    await c.execute(by_code, batch)
                    done += len(batch)
                    if progress:
                        progress(done, total)
                counts = ImportCounts(len(new_units), len(changed_units), len(new_persons), len(changed_persons))
                await c.execute(insert(t.roster_imports).values(
                    record | {"units_added": counts.units_added, "units_changed": counts.units_changed,
                              "persons_added": counts.persons_added, "persons_changed": counts.persons_changed}))
                await c.execute(insert(t.audit_log).values(
                    at=record["imported_at"], actor_user_id=record.get("user_id"),
                    action=AuditAction.IMPORT_ROSTER.value,
                    subject=f"roster:{record['sha256'][:16]}",
                    detail=f"{record['filename']}: units +{counts.units_added} ~{counts.units_changed}, "
                           f"persons +{counts.persons_added} ~{counts.persons_changed}"))
        except IntegrityError:
            raise Conflict("another import changed the same units or persons at the same time; "
                           "import the file again") from None
        if progress:
            progress(total, total)
        return counts

    # -- users -------------------------------------------------------------------------------------
    async def add_user(self, user: User, password_hash: str, now: datetime) -> User:
        values = {"username": user.username, "display_name": user.display_name, "role": user.role.value,
                  "scope_unit_id": user.scope_unit_id, "person_id": user.person_id,
                  "password_hash": password_hash, "active": user.active, "language": user.language,
                  "created_at": now}
        async with self.engine.begin() as c:
            try:
                uid = await _insert_id(c, insert(t.users).values(values))
            except IntegrityError:
                raise Conflict(f"username {user.username} is taken") from None
        return User(uid, user.username, user.display_name, user.role, user.scope_unit_id, user.person_id,
                    user.active, user.language)

    async def get_user(self, user_id: int) -> User | None:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.users).where(t.users.c.id == user_id))).first()
        return _user(row) if row else None

    async def user_with_hash(self, username: str) -> tuple[User, str] | None:
        if "\x00" in username:  # no user has one; PostgreSQL refuses to even compare it
            return None
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.users).where(t.users.c.username == username))).first()
        return (_user(row), row.password_hash) if row else None

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self.engine.begin() as c:
            await c.execute(update(t.users).where(t.users.c.id == user_id).values(password_hash=password_hash))

    async def set_language(self, user_id: int, language: str) -> None:
        async with self.engine.begin() as c:
            await c.execute(update(t.users).where(t.users.c.id == user_id).values(language=language))

    async def count_users(self) -> int:
        async with self.engine.connect() as c:
            return (await c.execute(select(func.count()).select_from(t.users))).scalar_one()

    # -- conferences, sessions, halls ---------------------------------------------------------------
    async def add_conference(self, conf: Conference) -> Conference:
        async with self.engine.begin() as c:
            cid = await _insert_id(c, insert(t.conferences).values(
                title=conf.title, topic=conf.topic, mode=conf.mode.value,
                organiser_unit_id=conf.organiser_unit_id, created_at=conf.created_at))
        return Conference(cid, conf.title, conf.topic, conf.mode, conf.organiser_unit_id, conf.created_at)

    async def get_conference(self, conference_id: int) -> Conference:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.conferences).where(t.conferences.c.id == conference_id))).first()
        if row is None:
            raise NotFound(f"conference {conference_id} not found")
        return _conference(row)

    async def list_conferences(self) -> list[Conference]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.conferences).order_by(t.conferences.c.created_at.desc()))
            return [_conference(r) for r in rows]

    async def add_session(self, s: Session) -> Session:
        async with self.engine.begin() as c:
            sid = await _insert_id(c, insert(t.sessions).values(
                conference_id=s.conference_id, title=s.title, starts_at=s.starts_at, ends_at=s.ends_at,
                checkin_opens_at=s.checkin_opens_at, checkin_closes_at=s.checkin_closes_at,
                late_after_minutes=s.late_after_minutes))
        return Session(sid, s.conference_id, s.title, s.starts_at, s.ends_at, s.checkin_opens_at,
                       s.checkin_closes_at, s.late_after_minutes)

    async def get_session(self, session_id: int) -> Session:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.sessions).where(t.sessions.c.id == session_id))).first()
        if row is None:
            raise NotFound(f"session {session_id} not found")
        return _session(row)

    async def sessions_of(self, conference_id: int) -> list[Session]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.sessions).where(t.sessions.c.conference_id == conference_id)
                                   .order_by(t.sessions.c.starts_at))
            return [_session(r) for r in rows]

    async def add_hall(self, h: Hall) -> Hall:
        async with self.engine.begin() as c:
            try:
                hid = await _insert_id(c, insert(t.halls).values(
                    conference_id=h.conference_id, unit_id=h.unit_id, name=h.name, level=h.level,
                    role=h.role.value, channel=h.channel.value, chair=h.chair,
                    technical_contact=h.technical_contact, expected_count=h.expected_count,
                    connection=h.connection.value, last_seen_at=h.last_seen_at,
                    preflight_done=",".join(sorted(h.preflight_done))))
            except IntegrityError:
                raise Conflict("this unit already has a hall in this conference") from None
        return await self.get_hall(hid)

    async def get_hall(self, hall_id: int) -> Hall:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.halls).where(t.halls.c.id == hall_id))).first()
        if row is None:
            raise NotFound(f"hall {hall_id} not found")
        return _hall(row)

    async def halls_of(self, conference_id: int) -> list[Hall]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.halls).where(t.halls.c.conference_id == conference_id)
                                   .order_by(t.halls.c.level, t.halls.c.name))
            return [_hall(r) for r in rows]

    async def set_hall_seen(self, hall_id: int, at: datetime) -> None:
        """A hall's last heartbeat, kept so that its status survives a restart."""
        async with self.engine.begin() as c:
            await c.execute(update(t.halls).where(t.halls.c.id == hall_id).values(last_seen_at=at, connection="online"))

    async def invite(self, invitations: Sequence[Invitation]) -> int:
        """Record invitations (replacing the hall of anyone already invited) and refresh expected counts."""
        if not invitations:
            return 0
        conf_ids = {i.conference_id for i in invitations}
        async with self.engine.begin() as c:
            for conf_id in conf_ids:
                people = [i.person_id for i in invitations if i.conference_id == conf_id]
                for k in range(0, len(people), CHUNK):
                    await c.execute(t.invitations.delete().where(
                        t.invitations.c.conference_id == conf_id,
                        t.invitations.c.person_id.in_(people[k:k + CHUNK])))
            rows = [{"conference_id": i.conference_id, "person_id": i.person_id, "hall_id": i.hall_id}
                    for i in invitations]
            for k in range(0, len(rows), CHUNK):
                await c.execute(insert(t.invitations), rows[k:k + CHUNK])
            for conf_id in conf_ids:
                await self._record_invitee_units(c, conf_id)
                await self._refresh_expected(c, conf_id)
        return len(invitations)

    async def _record_invitee_units(self, c: AsyncConnection, conference_id: int) -> None:
        """Keep each new invitee's unit with the invitation: the unit tree changes, reports must not."""
        unit_now = select(t.persons.c.unit_id).where(t.persons.c.id == t.invitations.c.person_id).scalar_subquery()
        await c.execute(update(t.invitations).where(t.invitations.c.conference_id == conference_id,
                                                    t.invitations.c.unit_id.is_(None)).values(unit_id=unit_now))

    async def _refresh_expected(self, c: AsyncConnection, conference_id: int) -> None:
        """A hall's expected count: its invitees, less those exempt from party activities."""
        counted = (
            select(func.count()).select_from(t.invitations.join(t.persons))
            .where(t.invitations.c.hall_id == t.halls.c.id, t.persons.c.exempt.is_(False))
            .scalar_subquery()
        )
        await c.execute(update(t.halls).where(t.halls.c.conference_id == conference_id)
                        .values(expected_count=counted))

    async def invitations_of(self, conference_id: int, hall_id: int | None = None) -> list[Invitation]:
        cond: list[ColumnElement[bool]] = [t.invitations.c.conference_id == conference_id]
        if hall_id is not None:
            cond.append(t.invitations.c.hall_id == hall_id)
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.invitations).where(*cond))
            return [Invitation(r.conference_id, r.person_id, r.hall_id) for r in rows]

    async def find_invitees(self, hall_id: int, query: str = "", limit: int = 50) -> list[Person]:
        """Persons invited to a hall whose folded name contains the folded query."""
        cond: list[ColumnElement[bool]] = [t.invitations.c.hall_id == hall_id]
        if query.strip():
            cond.append(t.persons.c.search_key.contains(fold(query), autoescape=True))
        stmt = (select(t.persons).select_from(t.invitations.join(t.persons)).where(*cond)
                .order_by(t.persons.c.search_key, t.persons.c.id).limit(limit))
        async with self.engine.connect() as c:
            return [_person(r) for r in await c.execute(stmt)]

    # -- audit -------------------------------------------------------------------------------------
    async def audit(self, entry: AuditEntry) -> None:
        async with self.engine.begin() as c:
            await c.execute(insert(t.audit_log).values(
                at=entry.at, actor_user_id=entry.actor_user_id, device_id=entry.device_id,
                action=entry.action.value, subject=entry.subject, detail=entry.detail))

    async def audit_entries(self, limit: int = 200) -> list[AuditEntry]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.audit_log).order_by(t.audit_log.c.id.desc()).limit(limit))
            return [AuditEntry(r.at, r.actor_user_id, AuditAction(r.action), r.subject, r.detail, r.device_id)
                    for r in rows]

    async def audit_page(
        self, actions: frozenset[AuditAction] | None = None, actor_user_id: int | None = None,
        since: datetime | None = None, until: datetime | None = None, limit: int = 100, offset: int = 0,
    ) -> tuple[list[tuple[int, AuditEntry]], int]:
        """Entries newest first, filtered, with their ids; and how many match in all."""
        cond: list[ColumnElement[bool]] = []
        if actions is not None:
            cond.append(t.audit_log.c.action.in_(sorted(a.value for a in actions)))
        if actor_user_id is not None:
            cond.append(t.audit_log.c.actor_user_id == actor_user_id)
        if since is not None:
            cond.append(t.audit_log.c.at >= since)
        if until is not None:
            cond.append(t.audit_log.c.at < until)
        stmt = select(t.audit_log).where(*cond)
        async with self.engine.connect() as c:
            total = (await c.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
            rows = await c.execute(stmt.order_by(t.audit_log.c.id.desc()).limit(limit).offset(offset))
            return [(r.id, AuditEntry(r.at, r.actor_user_id, AuditAction(r.action), r.subject, r.detail,
                                      r.device_id)) for r in rows], total

    async def users_by_ids(self, ids: Iterable[int]) -> dict[int, User]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        async with self.engine.connect() as c:
            return {r.id: _user(r) for r in await c.execute(select(t.users).where(t.users.c.id.in_(wanted)))}

    async def user_by_name(self, username: str) -> User | None:
        if "\x00" in username:  # no user has one; PostgreSQL refuses to even compare it
            return None
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.users).where(t.users.c.username == username))).first()
        return _user(row) if row else None

    # -- invitees as they stood ---------------------------------------------------------------------
    async def invitees_of(self, conference_id: int) -> list[tuple[Person, int, int]]:
        """Every invitee of a conference: (person, hall id, the unit they were invited from)."""
        stmt = (select(t.persons, t.invitations.c.hall_id, t.invitations.c.unit_id.label("invited_unit_id"))
                .select_from(t.invitations.join(t.persons))
                .where(t.invitations.c.conference_id == conference_id))
        async with self.engine.connect() as c:
            return [(_person(r), r.hall_id, r.invited_unit_id or r.unit_id) for r in await c.execute(stmt)]

    # -- documents ----------------------------------------------------------------------------------
    async def add_document(self, doc: Document) -> Document:
        async with self.engine.begin() as c:
            did = await _insert_id(c, insert(t.documents).values(
                conference_id=doc.conference_id, title=doc.title, number=doc.number, issuer=doc.issuer,
                issued_on=doc.issued_on, category=doc.category, access=doc.access.value, sha256=doc.sha256,
                content_type=doc.content_type, size=doc.size, created_at=doc.created_at,
                created_by_user_id=doc.created_by_user_id))
        return await self.get_document(did)

    async def get_document(self, document_id: int) -> Document:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.documents).where(t.documents.c.id == document_id))).first()
        if row is None:
            raise NotFound(f"document {document_id} not found")
        return _document(row)

    async def documents_of(self, conference_id: int) -> list[Document]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.documents).where(t.documents.c.conference_id == conference_id)
                                   .order_by(t.documents.c.id))
            return [_document(r) for r in rows]

    async def delete_document(self, document_id: int) -> str | None:
        """Remove a document and its counts; returns its file's hash when no other document shares the file."""
        async with self.engine.begin() as c:
            row = (await c.execute(select(t.documents.c.sha256).where(t.documents.c.id == document_id))).first()
            if row is None:
                raise NotFound(f"document {document_id} not found")
            await c.execute(delete(t.document_openings).where(t.document_openings.c.document_id == document_id))
            await c.execute(delete(t.documents).where(t.documents.c.id == document_id))
            others = (await c.execute(select(func.count()).select_from(t.documents)
                                      .where(t.documents.c.sha256 == row.sha256))).scalar_one()
        return None if others else str(row.sha256)

    async def sha_in_use(self, sha256: str) -> bool:
        async with self.engine.connect() as c:
            found = (await c.execute(select(t.documents.c.id).where(t.documents.c.sha256 == sha256).limit(1))).first()
        return found is not None

    async def count_opening(self, document_id: int, unit_id: int) -> None:
        """One more opening of the document by a reader of `unit_id` (0: not signed in)."""
        insert_ = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert_(t.document_openings).values(document_id=document_id, unit_id=unit_id, openings=1)
        stmt = stmt.on_conflict_do_update(index_elements=["document_id", "unit_id"],
                                          set_={"openings": t.document_openings.c.openings + 1})
        async with self.engine.begin() as c:
            await c.execute(stmt)

    async def openings_of(self, conference_id: int) -> dict[int, dict[int, int]]:
        """document id -> reader's unit id (0: not signed in) -> openings."""
        stmt = (select(t.document_openings).join(t.documents)
                .where(t.documents.c.conference_id == conference_id))
        out: dict[int, dict[int, int]] = {}
        async with self.engine.connect() as c:
            for r in await c.execute(stmt):
                out.setdefault(r.document_id, {})[r.unit_id] = r.openings
        return out

    # -- feedback -----------------------------------------------------------------------------------
    async def add_feedback(self, fb: Feedback, receipt_hash: str | None = None) -> Feedback:
        async with self.engine.begin() as c:
            fid = await _insert_id(c, insert(t.feedback).values(
                author_person_id=fb.author_person_id, unit_id=fb.unit_id, conference_id=fb.conference_id,
                kind=fb.kind.value, content=fb.content, state=fb.state.value, created_at=fb.created_at,
                answer=fb.answer, answered_at=fb.answered_at, handler_unit_id=fb.handler_unit_id,
                receipt_hash=receipt_hash, answered_by_user_id=fb.answered_by_user_id, updated_at=fb.updated_at))
        return await self.get_feedback(fid)

    async def get_feedback(self, feedback_id: int) -> Feedback:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.feedback).where(t.feedback.c.id == feedback_id))).first()
        if row is None:
            raise NotFound(f"feedback {feedback_id} not found")
        return _feedback(row)

    async def feedback_by_receipt(self, receipt_hash: str) -> Feedback | None:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.feedback).where(t.feedback.c.receipt_hash == receipt_hash))).first()
        return _feedback(row) if row else None

    async def update_feedback(self, before: Feedback, after: Feedback) -> None:
        """Store a move, unless someone else moved the same feedback first (Conflict)."""
        async with self.engine.begin() as c:
            done = await c.execute(update(t.feedback).where(
                t.feedback.c.id == before.id, t.feedback.c.state == before.state.value,
                t.feedback.c.handler_unit_id.is_not_distinct_from(before.handler_unit_id),
            ).values(state=after.state.value, answer=after.answer, answered_at=after.answered_at,
                     handler_unit_id=after.handler_unit_id, answered_by_user_id=after.answered_by_user_id,
                     updated_at=after.updated_at))
        if done.rowcount != 1:
            raise Conflict("this feedback was changed by someone else meanwhile; reload it")

    async def find_feedback(
        self, unit_ids: Iterable[int] | None, conference_id: int | None = None, state: FeedbackState | None = None,
        kind: FeedbackKind | None = None, limit: int = 50, offset: int = 0,
    ) -> tuple[list[Feedback], int]:
        """Feedback from the given units (None: every unit), newest first, and how many match."""
        cond: list[ColumnElement[bool]] = []
        if unit_ids is not None:
            cond.append(t.feedback.c.unit_id.in_(sorted(set(unit_ids))))
        if conference_id is not None:
            cond.append(t.feedback.c.conference_id == conference_id)
        if state is not None:
            cond.append(t.feedback.c.state == state.value)
        if kind is not None:
            cond.append(t.feedback.c.kind == kind.value)
        stmt = select(t.feedback).where(*cond)
        async with self.engine.connect() as c:
            total = (await c.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
            rows = await c.execute(stmt.order_by(t.feedback.c.id.desc()).limit(limit).offset(offset))
            return [_feedback(r) for r in rows], total

    async def feedback_of_author(self, person_id: int, limit: int = 200) -> list[Feedback]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.feedback).where(t.feedback.c.author_person_id == person_id)
                                   .order_by(t.feedback.c.id.desc()).limit(limit))
            return [_feedback(r) for r in rows]

    async def feedback_counts(self, conference_id: int | None) -> list[tuple[int, FeedbackKind, FeedbackState, int]]:
        """(unit id, kind, state, how many): for the report tables (None: feedback tied to no conference)."""
        cond = (t.feedback.c.conference_id.is_(None) if conference_id is None
                else t.feedback.c.conference_id == conference_id)
        stmt = (select(t.feedback.c.unit_id, t.feedback.c.kind, t.feedback.c.state, func.count().label("n"))
                .where(cond).group_by(t.feedback.c.unit_id, t.feedback.c.kind, t.feedback.c.state))
        async with self.engine.connect() as c:
            return [(r.unit_id, FeedbackKind(r.kind), FeedbackState(r.state), int(r.n)) for r in await c.execute(stmt)]
