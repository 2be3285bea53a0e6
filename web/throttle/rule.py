"""How many guesses a key gets and how long it waits after them: the throttle's rule, with no clock or I/O.

A key (an account, a client address, ...) gets `free` attempts that did not succeed; the `free`-th one
makes the key wait `base_seconds`, each further one twice as long as the one before, up to
`longest_seconds` (exponential back-off). A key is counted either before its secret is checked
(`admit`: parallel guesses at one account count too, a success then forgives them) or after a failure
(`counted`: a client address, where many people's parallel successes must not lock each other out).
A key's attempts are forgotten `window_seconds` after the last one, plus its wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """The rule for one kind of key."""

    free: int
    base_seconds: float = 1.0
    longest_seconds: float = 900.0
    window_seconds: float = 900.0

    def __post_init__(self) -> None:
        if self.free < 1 or self.base_seconds <= 0 or self.longest_seconds < self.base_seconds:
            raise ValueError("a back-off needs at least one free attempt and 0 < base <= longest")

    def wait_after(self, attempts: int) -> float:
        """Seconds the key waits after its `attempts`-th unforgiven attempt (0.0: none)."""
        if attempts < self.free:
            return 0.0
        return min(self.longest_seconds, self.base_seconds * 2.0 ** min(attempts - self.free, 40))

    def forget_after(self, attempts: int) -> float:
        """Seconds after the last attempt when the key's count is forgotten."""
        return self.window_seconds + self.wait_after(attempts)


@dataclass(frozen=True)
class Count:
    """A key's state on the caller's clock: unforgiven attempts, waiting until, forgotten at."""

    attempts: int = 0
    until: float = 0.0
    expires: float = 0.0


def waiting(count: Count | None, now: float) -> float:
    """Seconds the key must still wait (0.0: none)."""
    if count is None or now >= count.expires or now >= count.until:
        return 0.0
    return count.until - now


def counted(count: Count | None, rule: Backoff, now: float) -> Count:
    """The key's count after one more attempt that did not succeed (or is not known to yet)."""
    if count is not None and now >= count.expires:
        count = None
    attempts = (count.attempts if count else 0) + 1
    wait = rule.wait_after(attempts)
    return Count(attempts, max(now + wait, count.until if count else 0.0), now + rule.forget_after(attempts))


def admit(count: Count | None, rule: Backoff, now: float) -> tuple[Count | None, float]:
    """One attempt on a key, counted before its secret is checked (so parallel guesses count too): (the
    key's new count, 0.0) when admitted, (its count unchanged, seconds still to wait) when it must wait."""
    wait = waiting(count, now)
    if wait:
        return count, wait
    return counted(count, rule, now), 0.0


def forgive(count: Count | None, now: float, everything: bool) -> Count | None:
    """A success: every attempt forgiven and the wait lifted (`everything`: an account that proved its
    password), or only the successful attempt itself (a client address: its other guesses stand)."""
    if everything or count is None or now >= count.expires:
        return None
    return Count(max(0, count.attempts - 1), count.until, count.expires)


class Throttled(Exception):
    """Too many attempts on a key: answered 429 with `Retry-After`."""

    code = "throttled"

    def __init__(self, wait_seconds: float, message: str = "too many attempts; try again later") -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, math.ceil(wait_seconds))
