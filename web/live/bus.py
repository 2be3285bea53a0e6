"""The bus between hub processes: a tiny interface with an in-process and a Redis backend.

The in-process bus is the embedded default and a real backend (one process needs nothing else).
The Redis bus reconnects by itself and tells the hub when it is back, so the hub can resync from the
store: a message lost while Redis was away costs nothing but a few seconds of staleness. Its `up`
says whether messages flow: a subscription that hears nothing, not even the answer to its ping, for
DEAD_SECONDS is taken for lost, so the hub knows at once to read the store itself (web/live/feed.py).

`claim(key, seconds)` spends a one-time key (a live ticket) on every hub: the first claim wins. Redis
keeps the keys (`SET NX EX`); while Redis is away each hub keeps its own, so a ticket is still spent
once on each hub (and a ticket lives 60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)
CHANNEL = "hoinghi:live"

PING_SECONDS = 1.0  # a silent subscription pings Redis this often
DEAD_SECONDS = 3.0  # and is taken for lost after this long without a word (Redis frozen, the network gone)

OnMessage = Callable[[str], None]
OnReconnect = Callable[[], None]


class Bus(Protocol):
    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        """Begin delivering every published message (this process's own included) to `on_message`."""

    async def publish(self, message: str) -> bool:
        """Send to every hub. Never raises: False when the bus is down and the message was dropped."""

    async def claim(self, key: str, seconds: float) -> bool:
        """True the first time `key` is claimed within `seconds`, on any hub; False after."""

    @property
    def up(self) -> bool:
        """Whether messages flow now (False: the subscription is lost, or the last publish failed)."""

    async def stop(self) -> None: ...


class Claims:
    """One-time keys held in this process, each forgotten once its time is up."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def claim(self, key: str, seconds: float) -> bool:
        now = time.monotonic()
        if len(self._until) > 1000:
            self._until = {k: t for k, t in self._until.items() if t > now}
        if self._until.get(key, 0.0) > now:
            return False
        self._until[key] = now + seconds
        return True


class MemoryBus:
    def __init__(self) -> None:
        self._handlers: list[OnMessage] = []
        self._claims = Claims()

    async def claim(self, key: str, seconds: float) -> bool:
        return self._claims.claim(key, seconds)

    @property
    def up(self) -> bool:
        return True

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._handlers.append(on_message)

    async def publish(self, message: str) -> bool:
        for handler in self._handlers:
            handler(message)
        return True

    async def stop(self) -> None:
        self._handlers.clear()


class RedisBus:
    def __init__(self, url: str, channel: str = CHANNEL, retry_seconds: float = 0.5,
                 first_connect_seconds: float = 5.0) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=None,
                                           health_check_interval=5)
        self._channel = channel
        self._retry = retry_seconds
        self._first_connect = first_connect_seconds
        self._reader: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.dropped = 0
        self._dropping = 0  # dropped since the last message that got through
        self._claims = Claims()  # while Redis is away

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._reader = asyncio.create_task(self._read(on_message, on_reconnect), name="redis-bus")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), self._first_connect)

    async def _read(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        first = True
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await asyncio.wait_for(pubsub.subscribe(self._channel), DEAD_SECONDS)
                self.connected.set()
                if not first:
                    log.info("redis bus reconnected")
                    on_reconnect()
                first = False
                await self._listen(pubsub, on_message)
            except asyncio.CancelledError:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except Exception as e:  # Redis went away: keep trying
                if self.connected.is_set():
                    log.warning("redis bus lost: %s", e)
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(self._retry)

    async def _listen(self, pubsub: Any, on_message: OnMessage) -> None:
        """Deliver messages until the subscription is lost: an error, or no answer to a ping within
        DEAD_SECONDS (a loop that was busy meanwhile finds the answer waiting: read once more first)."""
        heard = time.monotonic()
        pinged: float | None = None
        while True:
            item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=PING_SECONDS)
            now = time.monotonic()
            if item is None and pinged is not None and now - pinged > DEAD_SECONDS:
                item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
                if item is None:
                    raise ConnectionError(f"no answer from redis for {now - pinged:.1f} s")
            if item is not None:
                heard, pinged = now, None
                if item.get("type") == "message":
                    data = item["data"]
                    on_message(data.decode() if isinstance(data, bytes) else str(data))
            elif pinged is None and now - heard >= PING_SECONDS:
                await pubsub.ping()
                pinged = now

    @property
    def up(self) -> bool:
        return self.connected.is_set() and not self._dropping

    async def publish(self, message: str) -> bool:
        try:
            await self._redis.publish(self._channel, message)
        except Exception as e:
            if self._dropping == 0:
                log.warning("redis bus down, dropping messages until it is back: %s", e)
            self.dropped += 1
            self._dropping += 1
            return False
        if self._dropping:
            log.warning("redis bus back after %d dropped messages", self._dropping)
            self._dropping = 0
        return True

    async def claim(self, key: str, seconds: float) -> bool:
        try:
            return bool(await self._redis.set(f"{self._channel}:claim:{key}", b"1", nx=True,
                                              ex=max(1, int(seconds + 0.999))))
        except Exception as e:
            log.warning("redis away: %s claimed on this hub only (%s)", key.split(":", 1)[0], e)
            return self._claims.claim(key, seconds)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._redis.aclose()


def bus_from_url(url: str) -> Bus:
    """'' or memory:// -> the in-process bus; redis:// or rediss:// -> Redis."""
    if not url or url.startswith("memory://"):
        return MemoryBus()
    return RedisBus(url)
