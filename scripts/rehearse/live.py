"""The live hub's WebSocket as every rehearsal client holds it (ticket or device token, hello, topic,
resume after a drop, heartbeats every PING_S), and the base of a role made of many such clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from .client import Front, HttpError
from .plan import Plan

PING_S = 15.0  # under the protocol's heartbeat_s (20 s)

OUTAGE_MAX_S = 60.0  # a WebSocket client away longer than this "could not get back in"
COUNTED_GAP_MAX_S = 40.0  # the hub counts at most 2 heartbeats between two pings (attendance/online.py)



# -- the live hub's WebSocket, as every client holds it -------------------------------------------------
class Live:
    """One WebSocket client through nginx: hello, one topic, heartbeats, back after any drop (resuming
    with since/epoch). `hello()` gives the first message: a fresh ticket, or a device token."""

    def __init__(self, front: Front, hello: Callable[[], Awaitable[dict[str, Any]]], topic: str,
                 record: bool = False) -> None:
        self.front = front
        self.hello = hello
        self.topic = topic
        self.record = record
        self.ws: Any = None
        self.connected = False
        self.stopping = False
        self.seq: int | None = None
        self.epoch: str | None = None
        self.totals: dict[str, Any] = {}
        self.frames: list[tuple[float, int, int, int]] = []  # (time, in_person, online, viewers)
        self.connects = 0
        self.drops = 0
        self.outages: list[tuple[float, float]] = []  # (when it dropped, seconds until subscribed again)
        self.down_since: float | None = None
        self.failures: Counter[str] = Counter()
        self.storm = False  # dropped on purpose: come back at once
        self.gaps = 0
        self.since: float | None = None  # connected (subscribed) since
        self.seconds = 0.0  # connected in all, before `since`
        self.resubscribe: asyncio.Future[None] | None = None
        self.counted_s = 0.0  # watch time the hub's pongs said counted (on air, media flowing)
        self.ponged_at: float | None = None

    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        delay = 0.0
        while not self.stopping:
            try:
                await self._session()
            except ConnectionClosed as e:
                if not self.connected:  # once in, a close is a drop (counted below), not a failure
                    self.failures[f"closed {e.rcvd.code if e.rcvd is not None else 1006} before subscribed"] += 1
            except (OSError, TimeoutError, HttpError, ValueError, KeyError) as e:
                self.failures[f"{type(e).__name__}: {str(e)[:60]}"] += 1
            finally:
                if self.connected:
                    self.seconds += time.monotonic() - (self.since or time.monotonic())
                    self.since = None
                    self.drops += 1
                    self.down_since = time.monotonic()
                    delay = 0.0 if self.storm else random.uniform(0.1, 1.5)  # as a browser's page would
                else:
                    delay = min(5.0, max(0.5, delay * 2)) * random.uniform(0.7, 1.3)
                self.connected = False
                self.storm = False
                self.ws = None
            if not self.stopping:
                await asyncio.sleep(delay)

    async def _session(self) -> None:
        from websockets.asyncio.client import connect

        first = await self.hello()
        ws = await connect(self.front.ws, ssl=self.front.tls(), open_timeout=30, ping_interval=None, close_timeout=2,
                           compression=None, max_size=2 ** 24)
        self.ws = ws
        try:
            await ws.send(json.dumps(first))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if welcome.get("type") != "welcome":
                raise ValueError(f"no welcome: {str(welcome)[:80]}")
            await ws.send(json.dumps({"type": "subscribe", "topic": self.topic, "since": self.seq,
                                      "epoch": self.epoch}))
            while not self.stopping:
                self._frame(await ws.recv(decode=False))
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    def _frame(self, data: bytes) -> None:
        if data.startswith((b'{"type":"snapshot"', b'{"type":"change"')):
            message = json.loads(data)
            if message["type"] == "change" and self.seq is not None and message["seq"] != self.seq + 1:
                self.gaps += 1  # the protocol says: re-subscribe with the last seq
                self.resubscribe = asyncio.ensure_future(self.ws.send(json.dumps(
                    {"type": "subscribe", "topic": self.topic, "since": self.seq, "epoch": self.epoch})))
                return
            self.seq = message["seq"]
            self.epoch = message.get("epoch", self.epoch)
            self._subscribed()
            totals = message["data"].get("totals")
            if totals:
                self.totals.update(totals)
                if self.record:
                    self.frames.append((time.monotonic(), int(totals["in_person"]), int(totals["online"]),
                                        int(totals["viewers"])))
        elif data.startswith(b'{"type":"subscribed"'):
            self._subscribed()
        elif data.startswith(b'{"type":"pong"'):
            now = time.monotonic()
            if b'"counted":true' in data and self.ponged_at is not None:
                self.counted_s += min(now - self.ponged_at, COUNTED_GAP_MAX_S)
            self.ponged_at = now
        elif data.startswith(b'{"type":"error"'):
            raise ValueError(data[:120].decode("utf-8", "replace"))

    def _subscribed(self) -> None:
        if not self.connected:
            self.connected = True
            self.since = time.monotonic()
            self.connects += 1
            if self.down_since is not None:
                self.outages.append((self.down_since, time.monotonic() - self.down_since))
                self.down_since = None

    def watched(self) -> float:
        """Seconds connected and subscribed, in all."""
        return self.seconds + (time.monotonic() - self.since if self.since is not None else 0.0)

    def drop(self) -> None:
        """The network goes away under this client (no close handshake): it comes back at once."""
        if self.ws is not None and self.connected:
            self.storm = True
            self.ws.transport.abort()


async def heartbeats(clients: list[Live], stop: asyncio.Event) -> None:
    """Every client pings every PING_S, spread evenly over the period."""
    ping = json.dumps({"type": "ping"})
    while not stop.is_set():
        started = time.monotonic()
        for n, c in enumerate(clients):
            if c.connected and c.ws is not None:
                with contextlib.suppress(Exception):
                    await c.ws.send(ping)
            if n % 50 == 49:
                await asyncio.sleep(max(0.0, started + PING_S * (n + 1) / len(clients) - time.monotonic()))
        await asyncio.sleep(max(0.0, started + PING_S - time.monotonic()))


def live_summary(clients: list[Live]) -> dict[str, Any]:
    """The connection statistics of many clients, for the report."""
    outages = sorted(o for c in clients for o in c.outages)
    failures: Counter[str] = Counter()
    for c in clients:
        failures.update({k: v for k, v in c.failures.items() if v})
    lost = [c for c in clients if not c.connected or any(away > OUTAGE_MAX_S for _, away in c.outages)]
    return {"clients": len(clients), "connected": sum(c.connected for c in clients),
            "drops": sum(c.drops for c in clients), "outages": outages, "failures": failures,
            "could_not_return": len(lost), "gaps": sum(c.gaps for c in clients)}


class Clients:
    """What every role holds: its WebSocket clients (pinged by one task), its tasks, a stop signal."""

    def __init__(self, plan: Plan, front: Front) -> None:
        self.plan = plan
        self.front = front
        self.clients: list[Live] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.stop = asyncio.Event()

    def run_clients(self) -> None:
        self.tasks += [asyncio.create_task(c.run()) for c in self.clients]
        self.tasks.append(asyncio.create_task(heartbeats(self.clients, self.stop)))

    async def all_connected(self, seconds: float = 60) -> int:
        deadline = time.monotonic() + seconds
        while not all(c.connected for c in self.clients) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return sum(c.connected for c in self.clients)

    async def end(self) -> dict[str, Any]:
        """Stops everything; the clients' summary as it was."""
        summary = live_summary(self.clients)
        self.stop.set()
        for c in self.clients:
            c.stopping = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        return summary

