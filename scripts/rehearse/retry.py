"""What a rehearsal client sends again, and how: a failure worth retrying (no answer, 5xx, 429, the ledger's
`unavailable`) is retried with the same request (the same nonce) with back-off until it is answered or
GIVE_UP_S have passed; every failed try is kept for the fault report."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .client import reason

GIVE_UP_S = 120.0  # a scan still unanswered this long after its first try has failed

RETRYABLE = {0, 429, 500, 502, 503, 504}



def retryable(status: int, body: bytes) -> bool:
    """Worth sending again with the same nonce: no answer, a server or proxy failure, busy, or the ledger's
    `unavailable` (the database could not record it), whatever status a server gives it."""
    return status in RETRYABLE or (status >= 300 and b'"error":"unavailable"' in body.replace(b" ", b""))


@dataclass
class Attempts:
    """Every failed try of a request, kept for the fault report: (monotonic time, status, reason)."""

    failed: list[tuple[float, int, str]] = field(default_factory=list)

    def note(self, status: int, body: bytes) -> None:
        self.failed.append((time.monotonic(), status, reason(status, body)))


async def persist(send: Callable[[], Awaitable[tuple[int, bytes]]], attempts: Attempts,
                  give_up: float = GIVE_UP_S) -> tuple[int, bytes, int]:
    """`send` until it is answered with something not worth retrying, or `give_up` seconds have passed;
    the last answer and the number of tries."""
    started = time.monotonic()
    tries = 0
    while True:
        tries += 1
        status, body = await send()
        if not retryable(status, body):
            return status, body, tries
        attempts.note(status, body)
        if time.monotonic() - started > give_up:
            return status, body, tries
        await asyncio.sleep(min(3.0, 0.2 * 1.5 ** min(tries, 10)) * random.uniform(0.5, 1.0))

