"""The attendance schema (SQLAlchemy Core): devices, check-ins, scan events, headcounts, consent, face
templates and face calibrations. Ids of sessions, halls and persons are the conference package's, held
opaquely."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
)

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
})


class AwareUTC(TypeDecorator[datetime]):
    """Stores naive UTC; hands back aware UTC (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value if value is None else value.replace(tzinfo=UTC)


devices = Table(
    "devices", metadata,
    Column("id", Integer, primary_key=True),
    Column("hall_id", Integer, nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("enrolled_at", AwareUTC, nullable=False),
    Column("revoked_at", AwareUTC, nullable=True),
    Column("last_seen_at", AwareUTC, nullable=True),
)

enrolment_codes = Table(
    "enrolment_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("hall_id", Integer, nullable=False),
    Column("created_by_user_id", Integer, nullable=True),
    Column("expires_at", AwareUTC, nullable=False),
    Column("used_at", AwareUTC, nullable=True),
)

checkins = Table(
    "checkins", metadata,
    Column("session_id", Integer, primary_key=True),
    Column("person_id", Integer, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("method", String(10), nullable=False),
    Column("hall_id", Integer, nullable=True, index=True),
    Column("server_time", AwareUTC, nullable=False),
    Column("kiosk_time", AwareUTC, nullable=True),
    Column("device_id", Integer, nullable=True),
    Column("operator_user_id", Integer, nullable=True),
    Column("nonce", String(64), nullable=True),
    Column("face_score", Float, nullable=True),
    Column("review", String(10), nullable=False, default="none"),
    Column("late", Boolean, nullable=False, default=False),
    Column("left_early", Boolean, nullable=False, default=False),
    Column("wrong_hall", Boolean, nullable=False, default=False),
    Column("absence_reason", String(500), nullable=False, default=""),
)

scan_events = Table(
    "scan_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, nullable=False, index=True),
    Column("hall_id", Integer, nullable=True),
    Column("method", String(10), nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("reason", String(30), nullable=True),
    Column("person_id", Integer, nullable=True),
    Column("credential_id", String(64), nullable=True),
    Column("device_id", Integer, nullable=True),
    Column("server_time", AwareUTC, nullable=False),
    Column("kiosk_time", AwareUTC, nullable=True),
    Column("nonce", String(64), nullable=True, unique=True),
    Column("offline", Boolean, nullable=False, default=False),
)

headcounts = Table(
    "headcounts", metadata,
    Column("session_id", Integer, primary_key=True),
    Column("hall_id", Integer, primary_key=True),
    Column("expected", Integer, nullable=False),
    Column("present", Integer, nullable=False),
    Column("absent_excused", Integer, nullable=False),
    Column("absent_unexcused", Integer, nullable=False),
    Column("reported_by_user_id", Integer, nullable=True),
    Column("reported_at", AwareUTC, nullable=False),
)

watch_time = Table(  # how long each participant has watched each session from a browser, over every hub
    "watch_time", metadata,
    Column("session_id", Integer, primary_key=True, autoincrement=False),
    Column("person_id", Integer, primary_key=True, autoincrement=False),
    Column("seconds", Float, nullable=False),
    Column("updated_at", AwareUTC, nullable=False),
    Column("writer", String(100), nullable=False),  # the hub (process) that added to it last
)

consents = Table(
    "consents", metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, nullable=False, index=True),
    Column("purpose", String(30), nullable=False),
    Column("text_version", String(30), nullable=False),
    Column("given_at", AwareUTC, nullable=False),
    Column("channel", String(30), nullable=False),
    Column("withdrawn_at", AwareUTC, nullable=True),
)

face_templates = Table(
    "face_templates", metadata,
    Column("person_id", Integer, primary_key=True),
    Column("consent_id", Integer, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", AwareUTC, nullable=False),
)

face_calibrations = Table(  # 1:N face check-in is refused until one is recorded (attendance/face_service.py)
    "face_calibrations", metadata,
    Column("id", Integer, primary_key=True),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", AwareUTC, nullable=False),
    Column("source", String(300), nullable=False),
    Column("people", Integer, nullable=False),
    Column("photos", Integer, nullable=False),
    Column("genuine_count", Integer, nullable=False),
    Column("genuine_min", Float, nullable=True),
    Column("genuine_median", Float, nullable=True),
    Column("genuine_max", Float, nullable=True),
    Column("impostor_count", Integer, nullable=False),
    Column("impostor_min", Float, nullable=True),
    Column("impostor_median", Float, nullable=True),
    Column("impostor_max", Float, nullable=True),
    Column("threshold", Float, nullable=False),
    Column("ceiling", Float, nullable=False),
    Column("population", Integer, nullable=False),
    Column("risk", Float, nullable=False),
    Column("stranger_risk", Float, nullable=False),
    Column("identification_safe", Boolean, nullable=False),
)

signing_keys = Table(
    "signing_keys", metadata,
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("sealed_private_key", LargeBinary, nullable=False),
    Column("created_at", AwareUTC, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("withdrawn_at", AwareUTC, nullable=True),
)

credentials = Table(
    "credentials", metadata,
    Column("credential_id", String(16), primary_key=True),  # 8 random bytes, hex
    Column("person_id", Integer, nullable=False, index=True),
    Column("key_id", Integer, nullable=False),
    Column("conference_id", Integer, nullable=False),  # 0: any conference
    Column("valid_from", AwareUTC, nullable=False),
    Column("valid_until", AwareUTC, nullable=False),
    Column("issued_at", AwareUTC, nullable=False, index=True),
    Column("revoked_at", AwareUTC, nullable=True, index=True),
)
