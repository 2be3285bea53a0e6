"""One live-hub client connection (`Conn`): who it is, what it reads, and how frames reach it.

Frames are written to the connection's `Wire` (web/live/wire.py) when the server offers one, else sent
through a bounded queue. Either way what waits for a client is bounded: a client that does not keep up
is closed as a slow consumer (4009) and never holds anyone else back; a client that cannot even take
the close frame within CLOSE_SECONDS is dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from attendance.devices import Device
from conference.accounts import User
from web import metrics
from web.live.protocol import Close, Rate
from web.live.wire import Wire, encode

QUEUE_MAX = 64  # frames waiting for a client sent through ASGI
WIRE_BUFFER_MAX = 512 * 1024  # bytes waiting for a client written to its Wire
CLOSE_SECONDS = 5.0  # a close frame a client does not take in this time: the connection is dropped

_BACKGROUND: set[asyncio.Task[Any]] = set()


def spawn(work: Coroutine[Any, Any, Any]) -> None:
    """Run `work` in the background, holding a reference until it ends."""
    task = asyncio.create_task(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


class Conn:
    """One WebSocket client: who it is, what it reads, and how frames reach it: written to its `Wire`
    when the server offers one, else through a bounded send queue. Either way a client that does not
    keep up is closed as a slow consumer and holds nobody else back."""

    __slots__ = ("_close", "_send", "checked_at", "closing", "device", "last_ping", "queue", "rate", "sender", "token",
                 "topics", "user", "wire")

    def __init__(self, send: Callable[[str], Awaitable[None]], close: Callable[[int, str], Coroutine[Any, Any, None]],
                 user: User | None, device: Device | None, wire: Wire | None = None, token: str | None = None) -> None:
        self._send = send
        self._close = close
        self.user = user
        self.device = device
        self.token = token  # a kiosk's device token, to check it again (web/live/identity.py)
        self.wire = wire
        self.topics: set[str] = set()
        self.queue: deque[str] | None = None if wire is not None else deque()  # 0.6 KiB, unused with a wire
        self.last_ping = self.checked_at = time.monotonic()
        self.rate = Rate(self.last_ping)  # messages it may send (docs/PROTOCOL.md section 5, 4029)
        self.closing = False
        self.sender: asyncio.Task[None] | None = None

    def push(self, text: str, encoded: bytes | None = None) -> None:
        """Send a frame (`encoded`: the same, already encoded by `wire.encode`, for a frame many receive)."""
        if self.closing:
            return
        if self.wire is not None:
            waiting = self.wire.write(encoded if encoded is not None else encode(text))
            if waiting is None:
                self.closing = True  # the socket is closing; the endpoint's receive loop ends the connection
            elif waiting > WIRE_BUFFER_MAX:
                self.close_soon(Close.SLOW_CONSUMER, "slow consumer")
            return
        assert self.queue is not None
        if len(self.queue) >= QUEUE_MAX:
            self.close_soon(Close.SLOW_CONSUMER, "slow consumer")
            return
        self.queue.append(text)
        if self.sender is None or self.sender.done():
            self.sender = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.queue and not self.closing:
                await self._send(self.queue.popleft())
        except Exception:  # the socket is gone; the endpoint's receive loop ends the connection
            self.closing = True

    def close_soon(self, code: int, reason: str) -> None:
        """Close with `code` in the background; nothing more is sent to this client."""
        if not self.closing:
            self.closing = True
            if code == Close.SLOW_CONSUMER:
                metrics.SLOW_CLOSES.inc()
            if self.queue is not None:
                self.queue.clear()
            spawn(self._closing(code, reason))

    async def _closing(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self._close(code, reason), CLOSE_SECONDS)
        except TimeoutError:
            if self.wire is not None:
                self.wire.abort()
