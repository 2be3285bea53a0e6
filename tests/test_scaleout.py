"""Scale-out, for real: three hub processes on PostgreSQL and a Redis of the test's own.

A check-in made through any hub reaches dashboards on all of them; killing a hub and restarting Redis
in the middle of a burst leaves every dashboard's count equal to the store's; while Redis is away a
hub reads the other hubs' check-ins from the store, each once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import websockets

from tests.conftest import create_postgres_database, drop_postgres_database
from tests.served import ORGANISER, SECRET, Hub, Prepared, ThrowawayRedis, prepare
from web.bootstrap import build
from web.settings import Settings, load

pytestmark = pytest.mark.postgres


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = asyncio.run(create_postgres_database())
    yield url
    asyncio.run(drop_postgres_database(url))


async def ticket(base: str) -> str:
    async with httpx2.AsyncClient(base_url=base, timeout=10) as http:
        page = (await http.get("/login")).text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        await http.post("/login", data={"username": ORGANISER[0], "password": ORGANISER[1], "csrf": csrf})
        token = (await http.get("/api/me")).json()["csrf_token"]
        return str((await http.post("/api/live/ticket", headers={"X-CSRF-Token": token})).json()["ticket"])


class Dashboard:
    """A dashboard client: follows one topic, and when its hub dies moves to the next hub and resumes."""

    def __init__(self, hubs: list[Hub], first: int, topic: str) -> None:
        self.hubs = hubs
        self.order = itertools.cycle(list(range(first, len(hubs))) + list(range(first)))
        self.topic = topic
        self.totals: dict[str, Any] = {}
        self.feed: list[dict[str, Any]] = []  # the recent check-ins, newest first, as the page shows them
        self.most = 0  # the highest in-person count shown
        self.seq: int | None = None
        self.epoch: str | None = None
        self.reconnects = 0

    async def run(self) -> None:
        while True:
            hub = self.hubs[next(self.order)]
            try:
                await self._follow(hub)
            except (OSError, websockets.ConnectionClosed, httpx2.HTTPError, KeyError, IndexError):
                self.reconnects += 1
                await asyncio.sleep(0.2)

    async def _follow(self, hub: Hub) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{hub.port}/ws", open_timeout=3) as ws:
            await ws.send(json.dumps({"type": "hello", "v": 1, "ticket": await ticket(hub.base)}))
            await ws.recv()
            await ws.send(json.dumps({"type": "subscribe", "topic": self.topic, "since": self.seq,
                                      "epoch": self.epoch}))
            while True:
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                except TimeoutError:
                    await ws.send(json.dumps({"type": "ping"}))
                    continue
                if message["type"] in ("snapshot", "change"):
                    self.seq = message["seq"]
                    self.epoch = message.get("epoch", self.epoch)
                    self.totals.update(message["data"].get("totals", {}))
                    recent = message["data"].get("recent", [])
                    self.feed = recent if message["type"] == "snapshot" else recent + self.feed
                    self.most = max(self.most, self.totals.get("in_person", 0))


async def present_in_store(settings: Settings, session_id: int) -> int:
    async with build(settings) as svc:
        return sum(c.present for c in await svc.ledger.checkins(session_id))


async def kiosk_burst(hubs: list[Hub], prepared: Prepared, texts: list[str], acknowledged: set[str]) -> None:
    """Kiosks scan through every hub in turn; a kiosk whose hub is gone retries (same nonce) on the next."""
    queue = list(texts)
    headers = {"Authorization": f"Bearer {prepared.kiosk_token}"}

    async def kiosk(n: int) -> None:
        async with httpx2.AsyncClient(timeout=10) as http:
            while queue:
                text = queue.pop()
                nonce = uuid.uuid4().hex
                for attempt in range(len(hubs) * 3):
                    hub = hubs[(n + attempt) % len(hubs)]
                    try:
                        answer = await http.post(f"{hub.base}/api/checkins", headers=headers, json={
                            "session_id": prepared.session_id, "credential": text, "nonce": nonce})
                    except httpx2.HTTPError:
                        await asyncio.sleep(0.05)
                        continue
                    if answer.status_code == 200:
                        if answer.json()["outcome"] in ("accepted", "repeat"):
                            acknowledged.add(text)
                        break
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(kiosk(n) for n in range(12)))


def test_three_hubs_one_truth_through_a_hub_kill_and_a_redis_restart(
        redis_server: ThrowawayRedis, postgres_url: str, tmp_path: Path) -> None:
    settings = load({}, None, database_url=postgres_url, secret_key=SECRET, redis_url=redis_server.url,
                    password_time_cost=1, password_memory_kib=8192)
    prepared = asyncio.run(prepare(settings))
    hubs = [Hub(settings, tmp_path / f"hub{i}.log", hub_id=f"h{i}").start() for i in range(3)]
    try:
        asyncio.run(scenario(settings, hubs, redis_server, prepared))
    finally:
        for hub in hubs:
            hub.stop()


async def scenario(settings: Settings, hubs: list[Hub], redis_server: ThrowawayRedis, prepared: Prepared) -> None:
    topic = f"session:{prepared.session_id}/unit:{prepared.province_unit_id}"
    dashboards = [Dashboard(hubs, i, topic) for i in range(3)]
    followers = [asyncio.create_task(d.run()) for d in dashboards]
    async with stop_after(followers):
        await until(lambda: all(d.totals.get("expected") for d in dashboards), 20)

        # 1. one check-in through hub 0 shows on the dashboards of all three hubs
        first: set[str] = set()
        await kiosk_burst(hubs[:1], prepared, prepared.texts[:1], first)
        await until(lambda: all(d.totals.get("in_person") == 1 for d in dashboards), 5)

        # 2. a burst through all hubs; mid-way hub 2 is killed and Redis restarts
        acknowledged: set[str] = set()
        burst = asyncio.create_task(kiosk_burst(hubs, prepared, prepared.texts[1:901], acknowledged))
        await until(lambda: len(acknowledged) >= 250, 60)
        hubs[2].kill()
        redis_server.stop()
        await asyncio.sleep(1.5)
        redis_server.start()
        await burst
        assert len(acknowledged) == 900

        stored = await present_in_store(settings, prepared.session_id)
        assert stored == 901
        await until(lambda: all(d.totals.get("in_person") == stored for d in dashboards), 30)
        assert dashboards[2].reconnects >= 1  # its hub died: it moved to another and resumed


async def until(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {seconds} s")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def stop_after(tasks: list[asyncio.Task[None]]) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_while_redis_is_away_a_hub_reads_the_other_hubs_check_ins_from_the_store(
        redis_server: ThrowawayRedis, postgres_url: str, tmp_path: Path) -> None:
    settings = load({}, None, database_url=postgres_url, secret_key=SECRET, redis_url=redis_server.url,
                    password_time_cost=1, password_memory_kib=8192)
    prepared = asyncio.run(prepare(settings, members=500))
    hubs = [Hub(settings, tmp_path / f"hub{i}.log", hub_id=f"h{i}").start() for i in range(2)]
    try:
        asyncio.run(outage(hubs, redis_server, prepared))
    finally:
        for hub in hubs:
            hub.stop()


async def outage(hubs: list[Hub], redis_server: ThrowawayRedis, prepared: Prepared) -> None:
    topic = f"session:{prepared.session_id}/unit:{prepared.province_unit_id}"
    on_b = Dashboard(hubs[1:], 0, topic)  # hub B's subscriber; its check-ins are all made on hub A
    followers = [asyncio.create_task(on_b.run())]
    acknowledged: set[str] = set()
    async with stop_after(followers):
        await until(lambda: on_b.totals.get("expected"), 20)
        await kiosk_burst(hubs[:1], prepared, prepared.texts[:1], acknowledged)
        await until(lambda: on_b.totals.get("in_person") == 1, 5)  # through the bus

        redis_server.stop()
        await asyncio.sleep(0.5)
        await kiosk_burst(hubs[:1], prepared, prepared.texts[1:3], acknowledged)
        await until(lambda: on_b.totals.get("in_person") == 3, 5)  # from the store, the bus still down
        assert redis_server.process is not None and redis_server.process.poll() is not None

        redis_server.start()
        await asyncio.sleep(6)  # B resubscribes and resyncs; its feed stops reading
        await kiosk_burst(hubs[:1], prepared, prepared.texts[3:4], acknowledged)
        await until(lambda: on_b.totals.get("in_person") == 4, 5)  # through the bus again
        await asyncio.sleep(1.5)
        assert len(acknowledged) == 4 and on_b.most == 4 and on_b.reconnects == 0
        shown = [(r["at"], r["name"]) for r in on_b.feed]
        assert len(shown) == 4 and len(set(shown)) == 4, shown  # every check-in in the feed, once
