"""The crowd, in client processes of their own: kiosks, participants watching, organisers' dashboards.

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
  sign-in first), the viewer topic, a ping every PING_S; they come back after any drop.
- Dashboards sign in as the province's organiser, follow the province topic, resume after a drop, and
  record the totals of every frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import resource
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any, Protocol

from kiosk_load import _answer, _connect, _Connection, _request

from .client import SESSION_COOKIE, Http, HttpError, reason, sign_in, ticket
from .deployment import HOST
from .plan import PARTICIPANT_PASSWORD, FacePlan, KioskPlan, OfflinePlan, Plan, ViewerPlan

PING_S = 15.0  # under the protocol's heartbeat_s (20 s)
GIVE_UP_S = 120.0  # a scan still unanswered this long after its first try has failed
OUTAGE_MAX_S = 60.0  # a WebSocket client away longer than this "could not get back in"
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


# -- the live hub's WebSocket, as every client holds it -------------------------------------------------
class Live:
    """One WebSocket client through nginx: hello, one topic, heartbeats, back after any drop (resuming
    with since/epoch). `hello()` gives the first message: a fresh ticket, or a device token."""

    def __init__(self, port: int, hello: Callable[[], Awaitable[dict[str, Any]]], topic: str,
                 record: bool = False) -> None:
        self.port = port
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
        ws = await connect(f"ws://{HOST}:{self.port}/ws", open_timeout=30, ping_interval=None, close_timeout=2,
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

    def __init__(self, plan: Plan, port: int) -> None:
        self.plan = plan
        self.port = port
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


# -- the roles --------------------------------------------------------------------------------------------
class Role(Protocol):
    async def setup(self) -> dict[str, Any]: ...

    def start(self, t0: float) -> None: ...

    def status(self) -> dict[str, Any]: ...

    async def finish(self) -> dict[str, Any]: ...


@dataclass
class Done:
    """One scan, as the kiosk lived it."""

    kind: str
    person_id: int
    nonce: str
    due: float  # monotonic
    done: float
    status: int
    outcome: str
    answered_person: int | None
    tries: int
    wait: float  # from due to answer


def _form(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = f"rehearsal{random.getrandbits(64):x}"
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, (filename, data) in files.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: image/{'png' if filename.endswith('.png') else 'jpeg'}\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


class Kiosks(Clients):
    def __init__(self, plan: Plan, port: int) -> None:
        super().__init__(plan, port)
        self.tokens: dict[int, str] = {}  # kiosk index -> device token (-1: offline, -2: faces)
        self.done: list[Done] = []
        self.attempts = Attempts()
        self.running = 0
        self.offline: dict[str, Any] = {}
        self.faces: list[dict[str, Any]] = []
        self.total = sum(len(k.scans) for k in plan.kiosks)

    async def _enrol(self, kiosk: KioskPlan) -> str:
        http = Http(HOST, self.port)
        body = json.dumps({"code": kiosk.code, "name": kiosk.name}).encode()
        try:
            status, data, _ = await persist(lambda: self._post(http, "/api/devices/enrol", body, {}), self.attempts)
        finally:
            http.close()
        if status != 201:
            raise RuntimeError(f"kiosk enrolment answered {status}: {data[:200]!r}")
        return str(json.loads(data)["token"])

    @staticmethod
    async def _post(http: Http, path: str, body: bytes, headers: dict[str, str],
                    content_type: str = "application/json") -> tuple[int, bytes]:
        try:
            answer = await http.request("POST", path, body, {"Content-Type": content_type, **headers}, timeout=60)
        except HttpError as e:
            return 0, e.text.encode()
        return answer.status, answer.body

    async def setup(self) -> dict[str, Any]:
        gate = asyncio.Semaphore(16)

        async def enrol(key: int, kiosk: KioskPlan) -> None:
            async with gate:
                self.tokens[key] = await self._enrol(kiosk)

        extra = [(-1, self.plan.offline.kiosk)] if self.plan.offline else []
        extra += [(-2, self.plan.face_kiosk)] if self.plan.face_kiosk else []
        await asyncio.gather(*(enrol(k.index, k) for k in self.plan.kiosks), *(enrol(i, k) for i, k in extra))
        # the hall screens: every kiosk (not the offline one) holds the live hub's socket, hall topic
        for k in [*self.plan.kiosks, *([self.plan.face_kiosk] if self.plan.face_kiosk else [])]:
            token = self.tokens[k.index if k.index >= 0 else -2]
            hello = {"type": "hello", "v": 1, "device_token": token}
            self.clients.append(Live(self.port, _constant(hello), f"session:{self.plan.session_id}/hall:{k.hall_id}"))
        self.run_clients()
        return {"kiosks": len(self.tokens), "hall links": await self.all_connected()}

    def start(self, t0: float) -> None:
        self.tasks += [asyncio.create_task(self._scan_loop(k, t0)) for k in self.plan.kiosks if k.scans]
        if self.plan.offline is not None:
            self.tasks.append(asyncio.create_task(self._upload(self.plan.offline, t0)))
        self.tasks += [asyncio.create_task(self._face(f, t0)) for f in self.plan.faces if f.due >= 0]

    async def _scan_loop(self, kiosk: KioskPlan, t0: float) -> None:
        token = self.tokens[kiosk.index].encode()
        host = f"{HOST}:{self.port}".encode()
        conn: _Connection | None = None
        for scan in kiosk.scans:
            due = t0 + scan.due
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            self.running += 1
            request = _request(host, token, self.plan.session_id, scan.item, datetime.now(UTC))

            async def send(request: bytes = request) -> tuple[int, bytes]:
                nonlocal conn
                try:
                    if conn is None or conn.closed:
                        conn = await _connect(HOST, self.port)
                    return await conn.request(request)
                except (ConnectionError, OSError, TimeoutError) as e:
                    if conn is not None and conn.transport is not None:
                        conn.transport.close()
                    conn = None
                    return 0, f"{type(e).__name__}: {e}".encode()

            status, body, tries = await persist(send, self.attempts)
            self.running -= 1
            now = time.monotonic()
            answer = _answer(scan.item, status, body, now - due, now - due)
            self.done.append(Done(scan.item.kind, scan.item.person_id, scan.item.nonce, due, now, status,
                                  answer.outcome, answer.answered_person, tries, now - due))
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    async def _upload(self, offline: OfflinePlan, t0: float) -> None:
        """Back online after `span` seconds away: the whole queue in one request, retried as it is."""
        await asyncio.sleep(max(0.0, t0 + offline.at - time.monotonic()))
        now = datetime.now(UTC)
        step = offline.span / max(1, len(offline.items))
        items = [{"session_id": self.plan.session_id, "credential": i.credential, "nonce": i.nonce,
                  "kiosk_time": (now - timedelta(seconds=offline.span - n * step)).isoformat()}
                 for n, i in enumerate(offline.items)]
        body = json.dumps({"items": items}).encode()
        http = Http(HOST, self.port)
        headers = {"Authorization": f"Bearer {self.tokens[-1]}"}
        started = time.monotonic()
        last = started

        async def send() -> tuple[int, bytes]:
            nonlocal last
            last = time.monotonic()
            return await self._post(http, "/api/checkins/upload", body, headers)

        status, data, tries = await persist(send, self.attempts)
        done = time.monotonic()
        http.close()
        outcomes: Counter[str] = Counter()
        if status == 200:
            results = json.loads(data)["results"]
            for item, result in zip(offline.items, results, strict=True):
                outcomes[result["outcome"]] += 1
                self.done.append(Done(f"offline_{item.kind}", item.person_id, item.nonce, started, done, status,
                                      result["outcome"], (result.get("person") or {}).get("person_id"), tries,
                                      done - started))
        self.offline = {"items": len(items), "status": status, "tries": tries, "seconds": done - started,
                        "last_try_seconds": done - last, "outcomes": outcomes, "wrong_hall": offline.wrong_hall,
                        "error": "" if status == 200 else data[:200].decode("utf-8", "replace")}

    async def _face(self, face: FacePlan, t0: float) -> None:
        """A face in front of the kiosk's camera: identified among the hall's enrolled invitees, checked in."""
        await asyncio.sleep(max(0.0, t0 + face.due - time.monotonic()))
        nonce = f"face-{self.plan.session_id}-{face.person_id}"
        fields = {"session_id": str(self.plan.session_id), "check_in": "true", "nonce": nonce,
                  "kiosk_time": datetime.now(UTC).isoformat()}
        body, content_type = _form(fields, {"image": (face.probe_photo.name, face.probe_photo.read_bytes())})
        http = Http(HOST, self.port)
        headers = {"Authorization": f"Bearer {self.tokens[-2]}"}
        started = time.monotonic()
        status, data, tries = await persist(
            lambda: self._post(http, "/api/faces/identify", body, headers, content_type), self.attempts)
        done = time.monotonic()
        http.close()
        record: dict[str, Any] = {"name": face.name, "person_id": face.person_id, "status": status, "tries": tries,
                                  "seconds": done - started, "outcome": "error", "decision": None, "distance": None}
        if status == 200:
            found = json.loads(data).get("faces") or []
            mine = next((f for f in found if (f.get("person") or {}).get("person_id") == face.person_id), None)
            if mine is not None:
                record["decision"], record["distance"] = mine["decision"], mine["distance"]
                record["outcome"] = (mine.get("checkin") or {}).get("outcome", "not checked in")
            else:
                record["outcome"] = f"not recognised ({[f.get('decision') for f in found]})"
        else:
            record["outcome"] = f"error {status}: {data[:120]!r}"
        if record["outcome"] == "accepted":
            self.done.append(Done("face", face.person_id, f"{nonce}:face:{face.person_id}", started, done, status,
                                  "accepted", face.person_id, tries, done - started))
        self.faces.append(record)

    def status(self) -> dict[str, Any]:
        scans = [d for d in self.done if not d.kind.startswith("offline") and d.kind != "face"]
        return {"done": len(scans), "total": self.total, "running": self.running,
                "accepted": sum(d.outcome == "accepted" for d in self.done),
                "finished": len(scans) == self.total and (self.plan.offline is None or bool(self.offline))
                and len(self.faces) == sum(f.due >= 0 for f in self.plan.faces),
                "retries": len(self.attempts.failed), "hall_links": sum(c.connected for c in self.clients)}

    async def finish(self) -> dict[str, Any]:
        links = await self.end()
        return {"done": self.done, "attempts": self.attempts.failed, "offline": self.offline, "faces": self.faces,
                "links": links}


def _constant(message: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def hello() -> dict[str, Any]:
        return message

    return hello


class Viewers(Clients):
    """Participants watching from their browsers: the viewer topic is their online presence."""

    def __init__(self, plan: Plan, port: int, viewers: list[ViewerPlan], storm: int) -> None:
        super().__init__(plan, port)
        self.viewers = viewers
        self.storm_size = storm
        self.sign_ins: list[float] = []  # seconds each real sign-in took
        self.storm: dict[str, Any] = {}

    async def setup(self) -> dict[str, Any]:
        return {"viewers": len(self.viewers)}

    def _hello(self, viewer: ViewerPlan) -> Callable[[], Awaitable[dict[str, Any]]]:
        http = Http(HOST, self.port)
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
        self.clients = [Live(self.port, self._hello(v), topic) for v in self.viewers]

        async def join(client: Live, at: float) -> None:
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
            await client.run()

        self.tasks = [asyncio.create_task(join(c, v.join)) for c, v in zip(self.clients, self.viewers, strict=True)]
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
        watched = {v.person_id: c.watched() for c, v in zip(self.clients, self.viewers, strict=True)}
        summary = await self.end()
        return {"links": summary, "sign_ins": self.sign_ins, "storm": self.storm, "watched": watched}


class Dashboards(Clients):
    """Organisers watching the province's live attendance."""

    def __init__(self, plan: Plan, port: int, count: int) -> None:
        super().__init__(plan, port)
        self.count = count

    def _hello(self, http: Http, csrf: str) -> Callable[[], Awaitable[dict[str, Any]]]:
        async def hello() -> dict[str, Any]:
            try:
                return {"type": "hello", "v": 1, "ticket": await ticket(http, csrf)}
            finally:
                http.close()

        return hello

    async def setup(self) -> dict[str, Any]:
        async def open_one() -> Live:
            http = Http(HOST, self.port)
            csrf = await sign_in(http, *self.plan.organiser)
            return Live(self.port, self._hello(http, csrf), self.plan.topic, record=True)

        self.clients = list(await asyncio.gather(*(open_one() for _ in range(self.count))))
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
