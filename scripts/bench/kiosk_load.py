"""The load generator of the check-in benchmark: simulated kiosks over raw keep-alive HTTP/1.1.

Each kiosk is one TCP connection (an asyncio Protocol, no client library) that sends its scans one
after the other, as a real kiosk does. Closed loop: the next scan leaves as soon as the previous one
is answered. Open loop (`rate`): each kiosk's scans are due at fixed times so that all kiosks
together offer `rate` scans per second; a scan's latency is counted from when it was due, so a
server that falls behind is not flattered by the kiosks waiting for it (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TIMEOUT = 30.0


@dataclass(frozen=True)
class Item:
    """One scan to send: `kind` is fresh, repeat or forged; `person_id` whom the QR text names."""

    kind: str
    person_id: int
    credential: str
    nonce: str


@dataclass
class Kiosk:
    index: int
    hall_id: int
    token: str
    items: list[Item]


@dataclass
class Answer:
    item: Item
    status: int  # HTTP status, 0 for a transport error or timeout
    outcome: str  # accepted / repeat / refused, or "error"
    reason: str | None
    answered_person: int | None
    latency: float  # seconds, from when the scan was due (open loop) or sent (closed loop)
    service: float  # seconds, from when it was actually sent


@dataclass
class LoadResult:
    answers: list[Answer] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    client_cpu: float = 0.0
    reconnects: int = 0


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        start = head.find(b"content-length:")
        if start < 0:
            length = 0
        else:
            stop = head.find(b"\r\n", start)
            length = int(head[start + 15:stop if stop >= 0 else len(head)])
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(self.buffer[end + 4:end + 4 + length])
        del self.buffer[:end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await asyncio.wait_for(self.waiter, TIMEOUT)


async def _connect(host: str, port: int) -> _Connection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(_Connection, host, port)
    return conn


def _request(host_header: bytes, token: bytes, session_id: int, item: Item, kiosk_time: datetime | None = None
             ) -> bytes:
    """POST /api/checkins of one scan; `kiosk_time` when the kiosk read the code (default: now)."""
    body = json.dumps({"session_id": session_id, "credential": item.credential, "nonce": item.nonce,
                       "kiosk_time": (kiosk_time or datetime.now(UTC)).isoformat()}, separators=(",", ":")).encode()
    return (b"POST /api/checkins HTTP/1.1\r\nHost: " + host_header + b"\r\nAuthorization: Bearer " + token
            + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


def _answer(item: Item, status: int, body: bytes, latency: float, service: float) -> Answer:
    if status != 200:
        return Answer(item, status, "error", body[:200].decode("utf-8", "replace"), None, latency, service)
    data = json.loads(body)
    person = data.get("person") or {}
    return Answer(item, status, data["outcome"], data.get("reason"), person.get("person_id"), latency, service)


async def _kiosk(kiosk: Kiosk, host: str, port: int, session_id: int, rate: float | None, total: int,
                 t0: float, out: list[Answer], result: LoadResult, rng: random.Random) -> None:
    host_header = f"{host}:{port}".encode()
    token = kiosk.token.encode()
    conn = await _connect(host, port)
    interval = phase = 0.0
    if rate:
        kiosk_rate = rate * len(kiosk.items) / total
        interval = 1.0 / kiosk_rate
        phase = rng.random() * interval
    clock = time.perf_counter
    for n, item in enumerate(kiosk.items):
        if rate:
            due = t0 + phase + n * interval
            delay = due - clock()
            if delay > 0:
                await asyncio.sleep(delay)
        sent = clock()
        if not rate:
            due = sent
        if conn.closed:
            conn = await _connect(host, port)
            result.reconnects += 1
        try:
            status, body = await conn.request(_request(host_header, token, session_id, item))
        except (ConnectionError, OSError, TimeoutError) as e:
            done = clock()
            out.append(Answer(item, 0, "error", f"{type(e).__name__}: {e}", None, done - due, done - sent))
            if conn.transport is not None:
                conn.transport.close()
            conn.closed = True
            continue
        done = clock()
        out.append(_answer(item, status, body, done - due, done - sent))
    if conn.transport is not None:
        conn.transport.close()


async def _drive(kiosks: list[Kiosk], host: str, port: int, session_id: int, rate: float | None,
                 seed: int) -> LoadResult:
    result = LoadResult()
    total = sum(len(k.items) for k in kiosks)
    rng = random.Random(seed)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    result.started = time.perf_counter()
    t0 = result.started + 0.05
    await asyncio.gather(*(_kiosk(k, host, port, session_id, rate, total, t0, result.answers, result, rng)
                           for k in kiosks if k.items))
    result.finished = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu = usage.ru_utime + usage.ru_stime - cpu0
    return result


def run(kiosks: list[Kiosk], host: str, port: int, session_id: int, rate: float | None = None,
        seed: int = 1) -> LoadResult:
    """Drive the server with every kiosk at once; returns every answer with its latency."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(_drive(kiosks, host, port, session_id, rate, seed))
    return uvloop.run(_drive(kiosks, host, port, session_id, rate, seed))
