"""Alembic environment: always run through web.db.upgrade, which hands over a live connection."""

from __future__ import annotations

from alembic import context

from attendance.tables import metadata as attendance_metadata
from conference.tables import metadata as conference_metadata

target_metadata = [conference_metadata, attendance_metadata]

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `hoinghi db upgrade`")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
