"""The crowd, in client processes of their own: kiosks, participants watching, organisers' dashboards.
This module holds the participants, the dashboards and the client processes; the kiosks are in kiosks.py,
the live hub link every client holds in live.py, the retry rule in retry.py.

Everything goes through nginx, as from outside. Each process runs one role on uvloop and answers the
coordinator over a pipe: `ready` once set up, then `go` (the common start, a time.monotonic() moment:
CLOCK_MONOTONIC is one clock for every process of the machine), `status`, and `finish` (its report).

- Kiosks enrol with their one-time code (POST /api/devices/enrol), hold the live hub's WebSocket with
  their device token (hall topic, heartbeats: the hall shows online), and scan people at their due
  times over one keep-alive connection each (scripts/bench/kiosk_load.py). A scan that fails in a way
  worth retrying (no answer, 5xx, 429, the ledger's `unavailable`) is sent again with the SAME nonce,
  as a real kiosk does, until it is answered or GIVE_UP_S have passed. One kiosk, offline, uploads its
  queue at once (POST /api/checkins/upload); another recognises faces (POST /api/faces/identify).
- Participants open the stream along the arrival curve: a ticket with their session cookie (or a
  sign-in first), the viewer topic, a ping every PING_S; their player pulls the HLS stream with their own
  viewer key (media.py: only media that flows counts); they come back after any drop.
- Dashboards sign in as the province's organiser, follow the province topic, resume after a drop, and
  record the totals of every frame.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import random
import resource
import time
import traceback
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from .client import SESSION_COOKIE, Front, Http, device_address, sign_in, ticket
from .live import OUTAGE_MAX_S, PING_S, Clients, Live, heartbeats
from .media import Player
from .plan import PARTICIPANT_PASSWORD, Plan, ViewerPlan


# -- the roles --------------------------------------------------------------------------------------------
class Role(Protocol):
    async def setup(self) -> dict[str, Any]: ...

    def start(self, t0: float) -> None: ...

    def status(self) -> dict[str, Any]: ...

    async def finish(self) -> dict[str, Any]: ...



class Viewers(Clients):
    """Participants watching from their browsers: the viewer topic and pings while their player pulls the
    stream (HLS, their own key) are their online presence."""

    def __init__(self, plan: Plan, front: Front, viewers: list[ViewerPlan], storm: int) -> None:
        super().__init__(plan, front)
        self.viewers = viewers
        self.storm_size = storm
        self.sign_ins: list[float] = []  # seconds each real sign-in took
        self.storm: dict[str, Any] = {}

    async def setup(self) -> dict[str, Any]:
        return {"viewers": len(self.viewers)}

    def _hello(self, viewer: ViewerPlan, player: Player) -> Callable[[], Awaitable[dict[str, Any]]]:
        http = self.front.http(device_address(2, viewer.person_id))  # each participant's own phone or PC
        http.cookies = player.http.cookies  # the page and its player: one browser, one cookie
        csrf = viewer.csrf
        if viewer.cookie is not None:
            http.cookies[SESSION_COOKIE] = viewer.cookie

        async def hello() -> dict[str, Any]:
            nonlocal csrf
            try:
                if csrf is None:
                    started = time.monotonic()
                    csrf = await sign_in(http, viewer.username, PARTICIPANT_PASSWORD)
                    self.sign_ins.append(time.monotonic() - started)
                return {"type": "hello", "v": 1, "ticket": await ticket(http, csrf)}
            finally:
                http.close()  # a browser's page is done with HTTP until the next ticket

        return hello

    def start(self, t0: float) -> None:
        topic = f"session:{self.plan.session_id}/viewer"
        self.players = [Player(self.front.http(device_address(2, v.person_id)), self.plan.session_id)
                        for v in self.viewers]
        self.clients = [Live(self.front, self._hello(v, p), topic) for v, p in zip(self.viewers, self.players,
                                                                                  strict=True)]

        async def play(client: Live, player: Player, at: float) -> None:
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()) + PING_S * random.random())
            while not self.stop.is_set():
                if client.connected:
                    await player.pull()
                await asyncio.sleep(PING_S)

        async def join(client: Live, at: float) -> None:
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
            await client.run()

        self.tasks = [asyncio.create_task(join(c, v.join)) for c, v in zip(self.clients, self.viewers, strict=True)]
        self.tasks += [asyncio.create_task(play(c, p, v.join))
                       for c, p, v in zip(self.clients, self.players, self.viewers, strict=True)]
        self.tasks.append(asyncio.create_task(heartbeats(self.clients, self.stop)))
        if self.storm_size and "reconnect_storm" in self.plan.schedule:
            self.tasks.append(asyncio.create_task(self._storm(t0 + self.plan.schedule["reconnect_storm"])))

    async def _storm(self, at: float) -> None:
        """`storm_size` participants lose the network at the same moment and all come back at once."""
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        victims = [c for c in self.clients if c.connected][:self.storm_size]
        before = [len(c.outages) for c in victims]
        started = time.monotonic()
        for c in victims:
            c.drop()
        while time.monotonic() - started < OUTAGE_MAX_S * 2:
            await asyncio.sleep(0.1)
            if all(c.connected and len(c.outages) > n for c, n in zip(victims, before, strict=True)):
                break
        back = [c.outages[n][1] for c, n in zip(victims, before, strict=True) if len(c.outages) > n]
        self.storm = {"dropped": len(victims), "back": len(back), "seconds": max(back, default=float("nan")),
                      "at": started}

    def status(self) -> dict[str, Any]:
        return {"connected": sum(c.connected for c in self.clients), "viewers": len(self.viewers),
                "persons": sorted(v.person_id for c, v in zip(self.clients, self.viewers, strict=True)
                                  if c.connected)}

    async def finish(self) -> dict[str, Any]:
        # watched: what the hub's pongs said counted (on air, their media flowing), as the hub counts it
        watched = {v.person_id: c.counted_s for c, v in zip(self.clients, self.viewers, strict=True)}
        summary = await self.end()
        for player in self.players:
            player.close()
        return {"links": summary, "sign_ins": self.sign_ins, "storm": self.storm, "watched": watched,
                "segments": sum(p.fetched for p in self.players), "pull_failures": sum(p.failed for p in self.players)}


class Dashboards(Clients):
    """Organisers watching the province's live attendance."""

    def __init__(self, plan: Plan, front: Front, count: int) -> None:
        super().__init__(plan, front)
        self.count = count

    def _hello(self, http: Http, csrf: str) -> Callable[[], Awaitable[dict[str, Any]]]:
        async def hello() -> dict[str, Any]:
            try:
                return {"type": "hello", "v": 1, "ticket": await ticket(http, csrf)}
            finally:
                http.close()

        return hello

    async def setup(self) -> dict[str, Any]:
        one_at_a_time = asyncio.Lock()  # one account on 20 PCs: the sign-in throttle counts parallel tries of
        # an account before their passwords are checked (a guesser's trick), so its owners sign in in turn

        async def open_one(n: int) -> Live:
            http = self.front.http(device_address(3, n))  # each organiser's own PC
            async with one_at_a_time:
                csrf = await sign_in(http, *self.plan.organiser)
            return Live(self.front, self._hello(http, csrf), self.plan.topic, record=True)

        self.clients = list(await asyncio.gather(*(open_one(n) for n in range(self.count))))
        self.run_clients()
        return {"dashboards": await self.all_connected()}

    def start(self, t0: float) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {"connected": sum(c.connected for c in self.clients),
                "totals": [dict(c.totals) if c.connected else None for c in self.clients]}

    async def finish(self) -> dict[str, Any]:
        summary = await self.end()
        return {"links": summary, "frames": [c.frames for c in self.clients]}


# -- client processes -------------------------------------------------------------------------------------
async def _serve(pipe: Connection, role: Role) -> None:
    try:
        pipe.send(("ready", await role.setup()))
    except Exception:
        pipe.send(("failed", traceback.format_exc()))
        return
    while True:
        command, argument = await asyncio.to_thread(pipe.recv)
        if command == "go":
            role.start(argument)
        elif command == "status":
            pipe.send(("status", role.status()))
        elif command == "finish":
            pipe.send(("report", await role.finish()))
            return


def _process(pipe: Connection, role: Role) -> None:
    import uvloop

    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1:] * 2)
    uvloop.run(_serve(pipe, role))
    os._exit(0)  # the sockets close with the process


class Worker:
    """A client process running one role (forked: the plan is shared, not pickled)."""

    def __init__(self, name: str, role: Role) -> None:
        self.name = name
        ctx = mp.get_context("fork")
        self.pipe, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_process, args=(theirs, role), daemon=True, name=name)
        self.proc.start()

    def receive(self, expect: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while not self.pipe.poll(0.2):
            if not self.proc.is_alive():
                raise SystemExit(f"rehearsal: client process {self.name} died ({self.proc.exitcode})")
            if time.monotonic() > deadline:
                raise SystemExit(f"rehearsal: client process {self.name} did not answer ({expect})")
        kind, data = self.pipe.recv()
        if kind == "failed":
            raise SystemExit(f"rehearsal: client process {self.name} failed:\n{data}")
        assert kind == expect, (kind, expect)
        return data

    def ask(self, command: str, expect: str, argument: Any = None, timeout: float = 120) -> Any:
        self.pipe.send((command, argument))
        return self.receive(expect, timeout)

    def tell(self, command: str, argument: Any = None) -> None:
        self.pipe.send((command, argument))

    def close(self) -> None:
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
