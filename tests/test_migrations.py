"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from attendance.tables import metadata as attendance_metadata
from conference.tables import metadata as conference_metadata


async def test_the_migrated_schema_is_the_declared_one(engine: AsyncEngine) -> None:
    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, [conference_metadata, attendance_metadata]))  # type: ignore[arg-type]

    async with engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == []
