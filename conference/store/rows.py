"""The conference store's shared ground: the base every part of `ConferenceStore` builds on (the engine),
and the conversions between table rows and the pure records of this package. Nothing here decides a rule."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Row, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from conference.accounts import Role, User
from conference.conferences import Conference, ConferenceMode, Session
from conference.documents import Document, DocumentAccess
from conference.errors import NotFound
from conference.feedback import Feedback, FeedbackKind, FeedbackState
from conference.halls import Channel, ConnectionStatus, Hall, HallRole
from conference.people import MemberType, Person
from conference.units import Unit, UnitType

CHUNK = 2000  # rows per executemany: well under every backend's parameter limit


class StoreBase:
    """What every part of the store holds: the async engine (SQLite or PostgreSQL), and a read by id."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def row_by_id(self, table: Table, row_id: int, what: str) -> Row[Any]:
        """The row of `table` with this id; NotFound ("{what} {id} not found") when there is none."""
        async with self.engine.connect() as c:
            row = (await c.execute(select(table).where(table.c.id == row_id))).first()
        if row is None:
            raise NotFound(f"{what} {row_id} not found")
        return row


async def insert_id(c: AsyncConnection, stmt: Insert) -> int:
    """Run an insert and return the new row's id."""
    table = stmt.table
    assert isinstance(table, Table)
    return int((await c.execute(stmt.returning(table.c.id))).scalar_one())


def unit_of(r: Row[Any]) -> Unit:
    return Unit(r.id, r.code, r.name, UnitType(r.type), r.parent_id, r.valid_from, r.valid_to)


def person_of(r: Row[Any]) -> Person:
    return Person(r.id, r.code, r.full_name, r.unit_id, r.position, MemberType(r.member_type), r.exempt)


def user_of(r: Row[Any]) -> User:
    return User(r.id, r.username, r.display_name, Role(r.role), r.scope_unit_id, r.person_id, r.active,
                r.language)


def conference_of(r: Row[Any]) -> Conference:
    return Conference(r.id, r.title, r.topic, ConferenceMode(r.mode), r.organiser_unit_id, r.created_at)


def session_of(r: Row[Any]) -> Session:
    return Session(r.id, r.conference_id, r.title, r.starts_at, r.ends_at, r.checkin_opens_at,
                   r.checkin_closes_at, r.late_after_minutes)


def hall_of(r: Row[Any]) -> Hall:
    done = frozenset(x for x in r.preflight_done.split(",") if x)
    return Hall(r.id, r.conference_id, r.unit_id, r.name, r.level, HallRole(r.role), Channel(r.channel),
                r.chair, r.technical_contact, r.expected_count, ConnectionStatus(r.connection),
                r.last_seen_at, done)


def document_of(r: Row[Any]) -> Document:
    return Document(r.id, r.conference_id, r.title, r.number, r.issuer, r.issued_on, r.category,
                    DocumentAccess(r.access), r.sha256, r.content_type, r.size, r.created_at, r.created_by_user_id)


def feedback_of(r: Row[Any]) -> Feedback:
    return Feedback(r.id, r.author_person_id, r.unit_id, r.conference_id, FeedbackKind(r.kind), r.content,
                    FeedbackState(r.state), r.created_at, r.answer, r.answered_at, r.handler_unit_id,
                    r.answered_by_user_id, r.updated_at)


def unit_values(u: Unit) -> dict[str, Any]:
    return {"code": u.code, "name": u.name, "type": u.type.value, "parent_id": u.parent_id,
            "valid_from": u.valid_from, "valid_to": u.valid_to}


def person_values(p: Person) -> dict[str, Any]:
    return {"code": p.code, "full_name": p.full_name, "search_key": p.search_key, "unit_id": p.unit_id,
            "position": p.position, "member_type": p.member_type.value, "exempt": p.exempt}
