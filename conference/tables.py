"""The conference schema (SQLAlchemy Core): units, people, accounts, conferences, halls, documents,
feedback, audit. Alembic migrations in web/migrations are the authority that creates it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, stored as naive UTC on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


units = Table(
    "units", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(300), nullable=False),
    Column("type", String(20), nullable=False),
    Column("parent_id", Integer, ForeignKey("units.id"), nullable=True, index=True),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
)

persons = Table(
    "persons", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("full_name", String(120), nullable=False),
    Column("search_key", String(120), nullable=False, index=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False, index=True),
    Column("position", String(200), nullable=False, default=""),
    Column("member_type", String(20), nullable=False),
    Column("exempt", Boolean, nullable=False, default=False),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("scope_unit_id", Integer, ForeignKey("units.id"), nullable=True),
    Column("person_id", Integer, ForeignKey("persons.id"), nullable=True, index=True),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("language", String(5), nullable=False, default="vi"),
    Column("created_at", UTCDateTime, nullable=False),
    # the cookie of every session carries it; raising it ends every session of the account at once
    Column("session_version", Integer, nullable=False, default=0, server_default="0"),
)

conferences = Table(
    "conferences", metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(300), nullable=False),
    Column("topic", Text, nullable=False, default=""),
    Column("mode", String(20), nullable=False),
    Column("organiser_unit_id", Integer, ForeignKey("units.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("conference_id", Integer, ForeignKey("conferences.id"), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("checkin_opens_at", UTCDateTime, nullable=False),
    Column("checkin_closes_at", UTCDateTime, nullable=False),
    Column("late_after_minutes", Integer, nullable=False),
)

session_presenters = Table(  # who may broadcast a session as its presenter (besides its organisers)
    "session_presenters", metadata,
    Column("session_id", Integer, ForeignKey("sessions.id"), primary_key=True, autoincrement=False),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True, autoincrement=False),
)

programme_items = Table(
    "programme_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("title", String(300), nullable=False),
    Column("presenter", String(200), nullable=False, default=""),
)

halls = Table(
    "halls", metadata,
    Column("id", Integer, primary_key=True),
    Column("conference_id", Integer, ForeignKey("conferences.id"), nullable=False, index=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False),
    Column("name", String(300), nullable=False),
    Column("level", Integer, nullable=False),
    Column("role", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("chair", String(200), nullable=False, default=""),
    Column("technical_contact", String(200), nullable=False, default=""),
    Column("expected_count", Integer, nullable=False, default=0),
    Column("connection", String(10), nullable=False, default="unknown"),
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("preflight_done", String(200), nullable=False, default=""),
    UniqueConstraint("conference_id", "unit_id", name="uq_halls_conference_unit"),
)

invitations = Table(
    "invitations", metadata,
    Column("conference_id", Integer, ForeignKey("conferences.id"), primary_key=True),
    Column("person_id", Integer, ForeignKey("persons.id"), primary_key=True),
    Column("hall_id", Integer, ForeignKey("halls.id"), nullable=False, index=True),
    # the person's unit when they were invited: reports of a past session place them as they stood then
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=True),
)

documents = Table(
    "documents", metadata,
    Column("id", Integer, primary_key=True),
    Column("conference_id", Integer, ForeignKey("conferences.id"), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("number", String(100), nullable=False, default=""),
    Column("issuer", String(200), nullable=False, default=""),
    Column("issued_on", Date, nullable=True),
    Column("category", String(100), nullable=False, default=""),
    Column("access", String(20), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by_user_id", Integer, nullable=True),
)

# how often each document was opened, per unit of the reader (0: not signed in); never who opened it
document_openings = Table(
    "document_openings", metadata,
    Column("document_id", Integer, ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", Integer, primary_key=True, autoincrement=False),
    Column("openings", Integer, nullable=False),
)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True),
    Column("author_person_id", Integer, ForeignKey("persons.id"), nullable=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False, index=True),
    Column("conference_id", Integer, ForeignKey("conferences.id"), nullable=True, index=True),
    Column("kind", String(20), nullable=False),
    Column("content", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("answer", Text, nullable=False, default=""),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("handler_unit_id", Integer, ForeignKey("units.id"), nullable=True, index=True),
    Column("receipt_hash", String(64), nullable=True, unique=True),  # anonymous: how the author reads the answer
    Column("answered_by_user_id", Integer, nullable=True),
    Column("updated_at", UTCDateTime, nullable=True),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor_user_id", Integer, nullable=True),
    Column("device_id", Integer, nullable=True),
    Column("action", String(30), nullable=False, index=True),
    Column("subject", String(100), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)

roster_imports = Table(
    "roster_imports", metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("filename", String(300), nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("units_added", Integer, nullable=False),
    Column("units_changed", Integer, nullable=False),
    Column("persons_added", Integer, nullable=False),
    Column("persons_changed", Integer, nullable=False),
)

Index("ix_persons_unit_name", persons.c.unit_id, persons.c.search_key)

# background jobs (badge sheets), visible from every hub; the result file is on shared storage by its SHA-256
jobs = Table(
    "jobs", metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("owner_user_id", Integer, nullable=False, index=True),
    Column("filename", String(300), nullable=False),
    Column("state", String(20), nullable=False),
    Column("done", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("error", String(300), nullable=False, default=""),
    Column("sha256", String(64), nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),  # the making hub's heartbeat while it runs
)
