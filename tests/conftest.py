"""Shared fixtures: real databases (a fresh SQLite file and a fresh PostgreSQL database per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from tests.contract import frame_problem
from tests.world import World, build_world
from web.app import create_app
from web.db import create_engine, upgrade
from web.live import protocol
from web.settings import Settings, load

POSTGRES_ADMIN_URL = os.environ.get("HOINGHI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HOINGHI_TEST_REDIS", "redis://127.0.0.1:6379/0")
FACES_DIR = Path(os.environ.get("HOINGHI_FACES_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "faces"))


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_postgres_database() -> str:
    """A new, empty database on the test server; returns its URL."""
    name = f"hoinghi_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def live_frames_follow_the_contract() -> Iterator[None]:
    """Every live frame the server builds in a test follows /api/asyncapi.json (issue 19); the test that
    made one that does not fails (at its teardown), naming the frame."""
    problems: list[str] = []

    def check(text: str) -> None:
        problem = frame_problem(text)
        if problem is not None:
            problems.append(problem)

    protocol.frame_check = check
    yield
    protocol.frame_check = None
    assert not problems, f"live frames breaking /api/asyncapi.json: {problems[:5]}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hoinghi.db'}"
        return
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database: the store suite runs against each backend through this."""
    eng = create_engine(database_url)
    await upgrade(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def faces_dir() -> Iterator[Path]:
    if not FACES_DIR.is_dir():
        pytest.fail(f"face photos not found at {FACES_DIR} (set HOINGHI_FACES_DIR)")
    yield FACES_DIR


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    """Settings for an app on a fresh SQLite file, with cheaper (still Argon2id) password hashing."""
    return load({}, None, database_url=f"sqlite:///{tmp_path / 'app.db'}", secret_key="t" * 40,
                password_time_cost=1, password_memory_kib=8192)


@pytest.fixture
def world_client(app_settings: Settings) -> Iterator[tuple[TestClient, World]]:
    """The real app (lifespan and all) with the small test province in it."""
    with TestClient(create_app(app_settings)) as client:
        assert client.portal is not None
        world = client.portal.call(build_world, client.app.state.services)  # type: ignore[attr-defined]
        yield client, world
