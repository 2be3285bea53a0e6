"""The two systems the fan-out bench compares, and what they run on: the prepared database (demo province,
an open session, a kiosk, QR texts), a Redis of the bench's own, the hoinghi hubs and the python-socketio
servers, each warmed up and measured."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout_clients import Target, Tickets
from fanout_storm import Outcome, System, measure
from harness import HOST, Server, free_port
from kiosk_load import Item, _connect, _request


# -- preparation --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    session_id: int
    unit_id: int
    kiosk_token: str
    texts: list[str]  # QR texts of distinct invited people: the first warms up, the rest are the storm


async def prepare(settings: Any, members: int, people: int, seed: int) -> Prepared:
    """The demo province, a session whose check-in is open now, one kiosk, and `people` QR texts."""
    from web.bootstrap import build
    from web.demo import province as demo_data
    from web.demo import seeding

    async with build(settings) as svc:  # migrates the new database
        now = datetime.now(UTC)
        await seeding.seed(svc.engine, svc.conference.passwords, now, members=members)
        svc.conference.forget_units()
        found = await svc.conference.store.user_with_hash(demo_data.ADMIN_USERNAME)
        assert found is not None
        admin = found[0]
        [conf] = await svc.conference.store.list_conferences()
        session = await svc.conference.add_session(admin, conf.id, "Phiên đo phát tán", now + timedelta(minutes=20),
                                                   now + timedelta(hours=4))
        invited = await svc.conference.store.invitations_of(conf.id)
        if len(invited) < people:
            raise SystemExit(f"fanout bench: only {len(invited)} invited people for {people} check-ins: "
                             f"raise --members or lower --rate × --duration")
        chosen = random.Random(seed).sample([i.person_id for i in invited], people)
        creds = await svc.credentials.current(chosen)
        texts = [await svc.credentials.text(creds[p]) for p in chosen]
        halls = Counter(i.hall_id for i in invited)
        code, _ = await svc.devices.issue_enrolment_code(halls.most_common(1)[0][0], admin.id)
        _, token = await svc.devices.enrol(code, "Kiosk đo phát tán")
        return Prepared(session.id, conf.organiser_unit_id, token, texts)


class Redis:
    """A redis-server of the benchmark's own on a free port (the machine's Redis is shared)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "",
                                      "--appendonly", "no", "--maxclients", "1000"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() \
                != b"PONG":
            if time.monotonic() > deadline:
                raise SystemExit("fanout bench: redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)



# -- the two systems ----------------------------------------------------------------------------------
def _hub_command(redis_url: str, hub_id: str, profile: Path | None, command: str | None = None) -> str:
    python = shlex.quote(sys.executable)
    env = f"env REDIS_URL={shlex.quote(redis_url)} HOINGHI_HUB_ID={hub_id}"
    if command:
        return f"{env} {command}"
    if profile is not None:
        helper = shlex.quote(str(Path(__file__).resolve().parent / "cpu_profile.py"))
        return f"{env} {python} {helper} {shlex.quote(str(profile))} web.cli"
    return f"{env} {python} -m web.cli"


async def _warm_hoinghi(target: Target, topic: str) -> int:
    """One subscriber in and out (the hub loads the session), and the count it saw."""
    from websockets.asyncio.client import connect

    tickets = Tickets()
    ticket = await tickets.get(target)
    await tickets.aclose()
    async with connect(f"ws://{target.host}:{target.port}/ws", ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "hello", "v": 1, "ticket": ticket}))
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "snapshot":
                return int(message["data"]["totals"]["in_person"])
            if message["type"] == "error":
                raise SystemExit(f"fanout bench: subscribe refused: {message}")


async def _warm_sio(target: Target, room: str) -> int:
    from websockets.asyncio.client import connect

    async with connect(f"ws://{target.host}:{target.port}/socket.io/?EIO=4&transport=websocket",
                       ping_interval=None) as ws:
        await ws.recv()
        await ws.send("40")
        await ws.recv()
        await ws.send("42" + json.dumps(["join", room]))
        while True:
            data = str(await ws.recv())
            if data.startswith('42["count"'):
                return int(json.loads(data[2:])[1]["in_person"])


async def _post(target: Target, request: bytes) -> tuple[int, bytes]:
    conn = await _connect(target.host, target.port)
    try:
        return await conn.request(request)
    finally:
        if conn.transport is not None:
            conn.transport.close()


def _checkin_outcome(body: bytes) -> str:
    return str(json.loads(body).get("outcome", "?"))


def run_hoinghi(args: argparse.Namespace, workdir: Path, db_url: str, redis_url: str, storm_size: int,
                settings: Any, prepared: Prepared) -> tuple[Outcome, list[Server]]:
    servers: list[Server] = []
    for i in range(args.hubs):
        hub_dir = workdir / f"hub{i}"
        hub_dir.mkdir()
        profile = Path(args.profile).resolve() / f"hub{i}.prof" if args.profile else None
        servers.append(Server(settings, free_port(), hub_dir, None,
                              _hub_command(redis_url, f"h{i}", profile, args.hub_command)))
    targets = [Target(HOST, s.port) for s in servers]
    topic = f"session:{prepared.session_id}/unit:{prepared.unit_id}"
    token = prepared.kiosk_token.encode()
    tag = secrets.token_hex(3)

    def make(index: int, target: Target) -> bytes:
        item = Item("fresh", 0, prepared.texts[index + 1], f"fanout-{tag}-{index:06d}")
        return _request(f"{target.host}:{target.port}".encode(), token, prepared.session_id, item)

    # warm-up, not measured: every hub loads the session; one check-in goes through the API
    for t in targets:
        asyncio.run(_warm_hoinghi(t, topic))
    warm = _request(f"{HOST}:{targets[0].port}".encode(), token, prepared.session_id,
                    Item("fresh", 0, prepared.texts[0], f"fanout-{tag}-warm"))
    status, body = asyncio.run(_post(targets[0], warm))
    if status != 200 or _checkin_outcome(body) != "accepted":
        raise SystemExit(f"fanout bench: the warm-up check-in answered {status} {body[:200]!r}")
    time.sleep(1.0)
    baselines = [asyncio.run(_warm_hoinghi(t, topic)) for t in targets]
    if len(set(baselines)) != 1:
        raise SystemExit(f"fanout bench: the hubs disagree before the storm: {baselines}")
    time.sleep(0.5)
    system = System("hoinghi", "hoinghi", targets, [s.proc.pid for s in servers], topic, make, _checkin_outcome,
                    baselines[0])
    return measure(system, args, storm_size), servers


def run_socketio(args: argparse.Namespace, workdir: Path, redis_url: str, storm_size: int, settings: Any,
                 room: str) -> tuple[Outcome, list[Server]]:
    servers: list[Server] = []
    app = shlex.quote(str(Path(__file__).resolve().parent / "sio_app.py"))
    tag = secrets.token_hex(4)
    extra = f" --redis {shlex.quote(redis_url)} --channel fanout-{tag} --counter fanout-{tag}:n" \
        if args.hubs > 1 else ""
    for i in range(args.hubs):
        sio_dir = workdir / f"socketio{i}"
        sio_dir.mkdir()
        servers.append(Server(settings, free_port(), sio_dir, None,
                              f"{shlex.quote(sys.executable)} {app} --room {shlex.quote(room)}{extra}"))
    targets = [Target(HOST, s.port) for s in servers]

    def make(index: int, target: Target) -> bytes:
        return (b"POST /checkin HTTP/1.1\r\nHost: " + f"{target.host}:{target.port}".encode()
                + b"\r\nContent-Length: 0\r\n\r\n")

    for t in targets:
        asyncio.run(_warm_sio(t, room))
    status, body = asyncio.run(_post(targets[0], make(0, targets[0])))
    if status != 200:
        raise SystemExit(f"fanout bench: the socket.io warm-up check-in answered {status} {body[:200]!r}")
    time.sleep(1.0)
    baselines = [asyncio.run(_warm_sio(t, room)) for t in targets]
    time.sleep(0.5)
    system = System("socket.io", "socketio", targets, [s.proc.pid for s in servers], room, make, _checkin_outcome,
                    baselines[0])
    return measure(system, args, storm_size), servers

