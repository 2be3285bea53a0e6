"""Where the throttle keeps its counts: in this process (`MemoryThrottle`, the embedded default and a real
backend) or in Redis (`RedisThrottle`, shared by every hub process), chosen by URL like the bus.

Both apply `web/throttle/rule.py`. Redis counts with its own clock (key expiry), so hubs need no shared
clock; while Redis cannot be reached, the process falls back to its own counts (logged once) rather than
refuse every sign-in or admit every guess.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from web.throttle.rule import Backoff, Count, admit, counted, forgive, waiting

log = logging.getLogger(__name__)
PREFIX = "hoinghi:throttle:"


class Throttle(Protocol):
    async def waiting(self, key: str) -> float:
        """Seconds `key` must still wait (0.0: none)."""

    async def admit(self, key: str, rule: Backoff) -> float:
        """Count one attempt on `key`: 0.0 when admitted, else the seconds it must still wait (not counted)."""

    async def fail(self, key: str, rule: Backoff) -> None:
        """Count one failed attempt on `key` (a wait starts when the rule says)."""

    async def forgive(self, key: str, everything: bool) -> None:
        """A success on `key`: forget all its attempts (`everything`) or only this one."""

    async def close(self) -> None: ...


class MemoryThrottle:
    """Counts in this process, bounded: the least recently used keys go first beyond `max_keys`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max = max_keys
        self._counts: OrderedDict[str, Count] = OrderedDict()

    async def waiting(self, key: str) -> float:
        return waiting(self._counts.get(key), self._clock())

    async def admit(self, key: str, rule: Backoff) -> float:
        count, wait = admit(self._counts.get(key), rule, self._clock())
        self._put(key, count)
        return wait

    async def fail(self, key: str, rule: Backoff) -> None:
        self._put(key, counted(self._counts.get(key), rule, self._clock()))

    async def forgive(self, key: str, everything: bool) -> None:
        self._put(key, forgive(self._counts.get(key), self._clock(), everything))

    def _put(self, key: str, count: Count | None) -> None:
        if count is None:
            self._counts.pop(key, None)
            return
        self._counts[key] = count
        self._counts.move_to_end(key)
        while len(self._counts) > self._max:
            self._counts.popitem(last=False)

    async def close(self) -> None:
        self._counts.clear()


# KEYS: the count, the wait. ARGV: the window in ms, 1 to check the wait first (admit) or 0 (fail).
# Returns {attempts, 0} when counted, {0, ms} when the key must wait (not counted).
_COUNT = """
local wait = redis.call('PTTL', KEYS[2])
if ARGV[2] == '1' and wait > 0 then return {0, wait} end
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {n, 0}
"""
# KEYS: the count, the wait. ARGV: 1 to forget everything, 0 to forgive one attempt.
_FORGIVE = """
if ARGV[1] == '1' then return redis.call('DEL', KEYS[1], KEYS[2]) end
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisThrottle:
    """Counts in Redis, shared by every hub: `<prefix><key>` holds the attempts, `<prefix><key>:wait` the wait."""

    def __init__(self, url: str, prefix: str = PREFIX) -> None:
        import redis.asyncio as redis
        from redis.exceptions import RedisError

        self._errors = (RedisError, OSError)
        self._redis: Any = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._prefix = prefix
        self._count = self._redis.register_script(_COUNT)
        self._forgive = self._redis.register_script(_FORGIVE)
        self._fallback = MemoryThrottle()
        self._down = False

    def _keys(self, key: str) -> list[str]:
        return [self._prefix + key, self._prefix + key + ":wait"]

    async def waiting(self, key: str) -> float:
        try:
            wait_ms = await self._redis.pttl(self._keys(key)[1])
            self._up()
        except self._errors as e:  # Redis is away: count in this process meanwhile
            self._fell(e)
            return await self._fallback.waiting(key)
        return max(0.0, float(wait_ms) / 1000)

    async def admit(self, key: str, rule: Backoff) -> float:
        return await self._counted(key, rule, check=True)

    async def fail(self, key: str, rule: Backoff) -> None:
        await self._counted(key, rule, check=False)

    async def _counted(self, key: str, rule: Backoff, check: bool) -> float:
        keys = self._keys(key)
        try:
            attempts, wait_ms = await self._count(keys=keys, args=[int(rule.window_seconds * 1000), int(check)])
            if wait_ms:
                self._up()
                return float(wait_ms) / 1000
            wait = rule.wait_after(int(attempts))
            if wait:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.set(keys[1], b"1", px=int(wait * 1000))  # the rule never shortens a wait
                    pipe.pexpire(keys[0], int(rule.forget_after(int(attempts)) * 1000))
                    await pipe.execute()
            self._up()
            return 0.0
        except self._errors as e:  # Redis is away: count in this process meanwhile
            self._fell(e)
            if check:
                return await self._fallback.admit(key, rule)
            await self._fallback.fail(key, rule)
            return 0.0

    async def forgive(self, key: str, everything: bool) -> None:
        try:
            await self._forgive(keys=self._keys(key), args=["1" if everything else "0"])
            self._up()
        except self._errors as e:
            self._fell(e)
        await self._fallback.forgive(key, everything)

    def _fell(self, e: Exception) -> None:
        if not self._down:
            log.warning("the throttle cannot reach Redis (%s: %s): counting in this process meanwhile",
                        type(e).__name__, e)
        self._down = True

    def _up(self) -> None:
        if self._down:
            log.info("the throttle reaches Redis again")
        self._down = False

    async def close(self) -> None:
        await self._redis.aclose()


def throttle_from_url(url: str) -> Throttle:
    """'' or memory:// -> counts in this process; redis:// or rediss:// -> Redis, shared by every hub."""
    if not url or url.startswith("memory://"):
        return MemoryThrottle()
    return RedisThrottle(url)
