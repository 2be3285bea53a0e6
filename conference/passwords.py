"""Password hashing with Argon2id (memory-hard), behind a tiny interface, run off the event loop.

`check` and `make` run in a small thread pool (argon2-cffi releases the GIL while it hashes), so
parallel guesses wait their turn there instead of stalling check-ins and the live hub. At most
`max_waiting` hashes wait for a thread; beyond that a caller is refused at once (`PasswordsBusy`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from conference.errors import ConferenceError

T = TypeVar("T")


class PasswordsBusy(ConferenceError):
    """Every hashing thread is busy and the queue is full: answered 503 with Retry-After."""

    code = "busy"


class Passwords:
    """Hash and verify passwords. Parameters are argon2-cffi's RFC 9106 low-memory profile by default."""

    def __init__(self, time_cost: int = 3, memory_cost_kib: int = 65536, workers: int = 2,
                 max_waiting: int = 64) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=1)
        self._dummy = self._hasher.hash("hoinghi-timing-equaliser")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._limit = workers + max_waiting
        self._in_flight = 0  # hashes queued or running; changed on the event loop only

    def hash(self, password: str) -> str:
        """The hash, computed on the calling thread (the command line, seeding)."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when the password matches; with no stored hash, spends the same time and says False."""
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    async def check(self, stored_hash: str | None, password: str) -> bool:
        """`verify` in the pool. Raises PasswordsBusy when too many hashes are already waiting."""
        return await self._in_pool(functools.partial(self.verify, stored_hash, password))

    async def make(self, password: str) -> str:
        """`hash` in the pool. Raises PasswordsBusy when too many hashes are already waiting."""
        return await self._in_pool(functools.partial(self.hash, password))

    async def _in_pool(self, work: Callable[[], T]) -> T:
        if self._in_flight >= self._limit:
            raise PasswordsBusy("too many sign-ins at once; try again in a moment")
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work)
        finally:
            self._in_flight -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
