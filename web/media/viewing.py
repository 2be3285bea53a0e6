"""Whose media flows: the facts online attendance needs of the livestream, shared by every hub process.

A session's media lives on one hub (its broadcast), while a participant's viewer pings may reach another.
The media service tells `MediaFacts` what it sees: a session on air (`on_air`), a viewer's media flowing
(`flowing`: a connected WebRTC viewer connection of theirs, or an HLS segment fetched with their own viewer
key). Online attendance reads them back (`read`) for the viewers pinging on its hub. Each fact lives a
short while (`AIR_SECONDS`, `FLOW_SECONDS`) unless told again, so a dead hub's facts fade by themselves.

`MemoryFacts` keeps them in this process (one process, and the test double); `RedisFacts` in Redis, with
its own clock (key expiry), falling back to this process's facts while Redis cannot be reached. Chosen by
URL, like the bus and the throttle.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

PREFIX = "hoinghi:media:"
AIR_SECONDS = 10.0  # the media service says it again every SHARE_SECONDS while on air
FLOW_SECONDS = 25.0  # a segment fetched (or a connection seen connected) this recently: the media flows
SHARE_SECONDS = 2.0  # how often the media service tells what it carries
REWRITE_SECONDS = FLOW_SECONDS / 5  # a viewer's fetches go to Redis at most this often

Key = tuple[int, int]  # (session id, user id)
VIEWER_KEY = re.compile(r"^(\d{1,12})\.([A-Za-z0-9_-]{22})$")


class ViewerKeys:
    """Each viewer's own HLS key: `<user id>.<MAC of the session and user>`, put in the stream's path
    (`/media/hls/<session>/<stream key>/<viewer key>/...`) so that a segment fetched names its viewer. Signed
    with the deployment's secret, so every hub checks a key another handed out."""

    def __init__(self, secret: str) -> None:
        self._secret = hashlib.sha256(b"hoinghi hls viewer\0" + secret.encode()).digest()

    def _mac(self, session_id: int, user_id: int) -> str:
        digest = hmac.new(self._secret, f"{session_id}:{user_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:22]

    def key(self, session_id: int, user_id: int) -> str:
        return f"{user_id}.{self._mac(session_id, user_id)}"

    def viewer(self, session_id: int, key: str) -> int | None:
        """The user whose key this is for the session, or None (malformed or forged)."""
        found = VIEWER_KEY.match(key)
        if found is None or not hmac.compare_digest(found.group(2), self._mac(session_id, int(found.group(1)))):
            return None
        return int(found.group(1))


@dataclass(frozen=True)
class Facts:
    """What `read` found: the sessions on air and the (session, user) pairs whose media flows."""

    on_air: frozenset[int] = frozenset()
    flowing: frozenset[Key] = field(default_factory=frozenset)


class MediaFacts(Protocol):
    async def on_air(self, session_id: int, live: bool) -> None:
        """The session is on air on this hub now (`live`), or no longer."""

    async def flowing(self, session_id: int, user_id: int) -> None:
        """The user's media of the session flows now (an HLS segment fetched, a viewer connection connected)."""

    async def read(self, keys: Collection[Key]) -> Facts:
        """Which of these sessions are on air and whose media flows, on any hub."""

    async def close(self) -> None: ...


class MemoryFacts:
    """The facts of this process, each forgotten once its time is up."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._air: dict[int, float] = {}  # session -> until
        self._flow: dict[Key, float] = {}  # (session, user) -> until

    async def on_air(self, session_id: int, live: bool) -> None:
        if live:
            self._air[session_id] = self._clock() + AIR_SECONDS
        else:
            self._air.pop(session_id, None)

    async def flowing(self, session_id: int, user_id: int) -> None:
        now = self._clock()
        if len(self._flow) > 10_000:
            self._flow = {k: t for k, t in self._flow.items() if t > now}
        self._flow[(session_id, user_id)] = now + FLOW_SECONDS

    async def read(self, keys: Collection[Key]) -> Facts:
        now = self._clock()
        return Facts(frozenset(s for s, _ in keys if self._air.get(s, 0.0) > now),
                     frozenset(k for k in keys if self._flow.get(k, 0.0) > now))

    async def close(self) -> None:
        self._air.clear()
        self._flow.clear()


class RedisFacts:
    """The facts in Redis, shared by every hub: `<prefix>air:<session>` and `<prefix>flow:<session>:<user>`,
    each expiring by itself. While Redis is away, this process's own facts answer (logged once)."""

    def __init__(self, url: str, prefix: str = PREFIX, clock: Callable[[], float] = time.monotonic) -> None:
        import redis.asyncio as redis
        from redis.exceptions import RedisError

        self._errors = (RedisError, OSError)
        self._redis: Any = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._prefix = prefix
        self._clock = clock
        self._local = MemoryFacts(clock)
        self._written: dict[Key, float] = {}  # when each flow was last written to Redis
        self._down = False

    def _air_key(self, session_id: int) -> str:
        return f"{self._prefix}air:{session_id}"

    def _flow_key(self, key: Key) -> str:
        return f"{self._prefix}flow:{key[0]}:{key[1]}"

    async def on_air(self, session_id: int, live: bool) -> None:
        await self._local.on_air(session_id, live)
        try:
            if live:
                await self._redis.set(self._air_key(session_id), b"1", px=int(AIR_SECONDS * 1000))
            else:
                await self._redis.delete(self._air_key(session_id))
            self._up()
        except self._errors as e:
            self._fell(e)

    async def flowing(self, session_id: int, user_id: int) -> None:
        await self._local.flowing(session_id, user_id)
        key, now = (session_id, user_id), self._clock()
        if now - self._written.get(key, -REWRITE_SECONDS) < REWRITE_SECONDS:
            return  # told Redis a moment ago: a fetch every segment need not reach it
        if len(self._written) > 10_000:
            self._written = {k: t for k, t in self._written.items() if now - t < REWRITE_SECONDS}
        try:
            await self._redis.set(self._flow_key(key), b"1", px=int(FLOW_SECONDS * 1000))
            self._written[key] = now
            self._up()
        except self._errors as e:
            self._fell(e)

    async def read(self, keys: Collection[Key]) -> Facts:
        keys = list(keys)
        if not keys:
            return Facts()
        sessions = sorted({s for s, _ in keys})
        try:
            found = await self._redis.mget([self._air_key(s) for s in sessions] + [self._flow_key(k) for k in keys])
            self._up()
        except self._errors as e:  # Redis is away: what this process carries meanwhile
            self._fell(e)
            return await self._local.read(keys)
        air, flow = found[:len(sessions)], found[len(sessions):]
        return Facts(frozenset(s for s, v in zip(sessions, air, strict=True) if v is not None),
                     frozenset(k for k, v in zip(keys, flow, strict=True) if v is not None))

    def _fell(self, error: BaseException) -> None:
        if not self._down:
            log.warning("media facts: Redis unreachable (%s); this process's own facts meanwhile", error)
        self._down = True

    def _up(self) -> None:
        if self._down:
            log.info("media facts: Redis reachable again")
        self._down = False

    async def close(self) -> None:
        await self._local.close()
        await self._redis.aclose()


def facts_from_url(url: str) -> MediaFacts:
    """Redis when the deployment has one (several hubs), else this process's memory."""
    return RedisFacts(url) if url else MemoryFacts()
