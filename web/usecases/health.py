"""Is this hub healthy? `/healthz` asks only that the process answers; `/readyz` asks `Health.readiness`:
the store answers a trivial query and, when REDIS_URL is set, Redis answers a PING, each within
CHECK_SECONDS. nginx and the compose healthchecks send nothing to a hub that is not ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from web import metrics

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0


class Health:
    def __init__(self, hub_id: str, engine: AsyncEngine, redis_url: str) -> None:
        self.hub_id = hub_id
        self.engine = engine
        self.redis_url = redis_url
        self._redis: Any = None

    async def readiness(self) -> dict[str, bool | None]:
        """{"store": reachable, "redis": reachable or None (not configured)}; sets the hoinghi_ready gauge."""
        store, redis = await asyncio.gather(self._store(), self._redis_ok())
        metrics.READY.set(1 if store and redis is not False else 0)
        return {"store": store, "redis": redis}

    async def _store(self) -> bool:
        async def ping() -> None:
            async with self.engine.connect() as c:
                await c.execute(text("SELECT 1"))
        try:
            await asyncio.wait_for(ping(), CHECK_SECONDS)
            return True
        except Exception as e:  # down, restarting, refusing: not ready
            log.warning("readiness: the store does not answer (%s)", type(e).__name__)
            return False

    async def _redis_ok(self) -> bool | None:
        if not self.redis_url:
            return None
        import redis.asyncio as aioredis

        if self._redis is None:
            self._redis = aioredis.from_url(self.redis_url, socket_timeout=CHECK_SECONDS,
                                            socket_connect_timeout=CHECK_SECONDS)
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), CHECK_SECONDS))
        except Exception as e:
            log.warning("readiness: Redis does not answer (%s)", type(e).__name__)
            return False

    async def close(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
