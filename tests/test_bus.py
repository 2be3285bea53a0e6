"""The bus, the same tests against the in-process backend and a real Redis."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import REDIS_URL
from tests.served import ThrowawayRedis
from web.live.bus import DEAD_SECONDS, PING_SECONDS, Bus, MemoryBus, RedisBus, bus_from_url


def make(kind: str, channel: str) -> Bus:
    return MemoryBus() if kind == "memory" else RedisBus(REDIS_URL, channel=channel)


@pytest.fixture(params=["memory", "redis"])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Bus, Bus, list[str], list[str]]]:
    """Two hubs' buses on one channel (the memory backend: one process, one bus shared)."""
    channel = f"hoinghi:test:{uuid.uuid4().hex}"
    first = make(request.param, channel)
    second = first if request.param == "memory" else make(request.param, channel)
    got_first: list[str] = []
    got_second: list[str] = []
    await first.start(got_first.append, lambda: None)
    if second is not first:
        await second.start(got_second.append, lambda: None)
    else:
        await first.start(got_second.append, lambda: None)
    yield first, second, got_first, got_second
    await first.stop()
    if second is not first:
        await second.stop()


async def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition() and asyncio.get_running_loop().time() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.01)


async def test_every_hub_receives_every_message_in_order(buses: tuple[Bus, Bus, list[str], list[str]]) -> None:
    first, second, got_first, got_second = buses
    sent = [f"tin nhắn {i} – điểm danh" for i in range(50)]
    for i, text in enumerate(sent):
        assert await (first if i % 2 else second).publish(text)
    await wait_for(lambda: len(got_first) == 50 and len(got_second) == 50)
    assert got_first == sent and got_second == sent


async def test_a_redis_bus_that_is_down_drops_and_says_so() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", retry_seconds=0.05, first_connect_seconds=0.2)
    await bus.start(lambda _: None, lambda: None)
    assert not bus.connected.is_set()
    assert await bus.publish("lost") is False and bus.dropped == 1
    await bus.stop()


def test_the_backend_is_chosen_by_url() -> None:
    assert isinstance(bus_from_url(""), MemoryBus)
    assert isinstance(bus_from_url("memory://"), MemoryBus)
    assert isinstance(bus_from_url("redis://127.0.0.1:6379/0"), RedisBus)


@pytest.fixture
def own_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis().start()
    yield server
    server.stop()


@pytest.mark.parametrize("fault", ["killed", "frozen"])
async def test_a_redis_bus_notices_at_once_that_its_subscription_is_lost(own_redis: ThrowawayRedis,
                                                                         fault: str) -> None:
    """Killed (the socket closes) or frozen (SIGSTOP: the socket stays open, nothing answers): `up` turns
    False within DEAD_SECONDS and a ping, and True again once Redis answers, with `on_reconnect` told."""
    reconnected: list[bool] = []
    bus = RedisBus(own_redis.url, retry_seconds=0.1)
    await bus.start(lambda _: None, lambda: reconnected.append(True))
    assert bus.up and MemoryBus().up
    process = own_redis.process
    assert process is not None
    lost_at = asyncio.get_running_loop().time()
    if fault == "killed":
        own_redis.stop()
    else:
        process.send_signal(signal.SIGSTOP)
    try:
        await wait_for(lambda: not bus.up, DEAD_SECONDS + 3 * PING_SECONDS)
        assert not bus.up
        assert asyncio.get_running_loop().time() - lost_at < DEAD_SECONDS + 3 * PING_SECONDS
    finally:
        if fault == "killed":
            own_redis.start()
        else:
            process.send_signal(signal.SIGCONT)
    await wait_for(lambda: bus.up and bool(reconnected), 10)
    assert bus.up and reconnected
    await bus.stop()
