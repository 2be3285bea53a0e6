"""The database: an async engine chosen by URL, SQLite tuned for the embedded default, and the
Alembic migrations that create and evolve the one schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseUrlError(ValueError):
    """DATABASE_URL is not one this deployment can use."""


def async_url(url: str) -> str:
    """`sqlite:///x.db` / `postgresql://…` as given by an operator -> the async driver URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(f"DATABASE_URL is not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseUrlError("DATABASE_URL: SQLite needs a file path, e.g. sqlite:///var/hoinghi.db")
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise DatabaseUrlError(f"DATABASE_URL must start with sqlite:/// or postgresql://, not {backend}://")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss too
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """The engine for a DATABASE_URL. Its errors never carry their bound parameters (`hide_parameters`): a
    failed statement is logged with its SQL only, never the names, codes or answers it was given."""
    full = async_url(url)
    if full.startswith("sqlite"):
        path = make_url(full).database
        assert path is not None
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(full, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True)


def _config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migrations (a no-op when it is there). Every head: migrations written
    side by side each start from the same parent, and all of them apply."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_config(c), "heads"))


def _pending(connection: Connection) -> bool:
    heads = set(ScriptDirectory.from_config(_config(connection)).get_heads())
    return set(MigrationContext.configure(connection).get_current_heads()) != heads


async def needs_upgrade(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return await conn.run_sync(_pending)
