"""A real `hoinghi serve` on a prepared province, for the kiosk's end-to-end tests: who is invited at the
enrolled kiosk's hall (names and QR texts), an organiser's HTTP client, and a dashboard subscription."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from websockets.sync.client import ClientConnection, connect

from tests.kiosk_media import credential_id
from tests.served import ORGANISER, SECRET, Hub, Prepared, prepare
from web.settings import Settings, load


@dataclass(frozen=True)
class Delegate:
    person_id: int
    full_name: str
    unit_name: str
    text: str  # the QR text


@dataclass
class Site:
    settings: Settings
    hub: Hub
    prepared: Prepared
    delegates: list[Delegate]  # invited at the kiosk's hall

    @property
    def base(self) -> str:
        return self.hub.base

    def organiser(self) -> tuple[httpx2.Client, str]:
        """A signed-in organiser and the CSRF token of their session."""
        http = httpx2.Client(base_url=self.base, timeout=10)
        page = http.get("/login").text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        http.post("/login", data={"username": ORGANISER[0], "password": ORGANISER[1], "csrf": csrf})
        return http, str(http.get("/api/me").json()["csrf_token"])

    def enrolment_code(self) -> str:
        http, csrf = self.organiser()
        try:
            answer = http.post(f"/api/halls/{self.prepared.kiosk_hall_id}/enrolment-codes",
                               headers={"X-CSRF-Token": csrf})
        finally:
            http.close()
        assert answer.status_code == 201, answer.text
        return str(answer.json()["code"])

    @contextmanager
    def dashboard(self) -> Iterator[Dashboard]:
        """The organiser's live totals of the whole province for the session (topic session:S/unit:U)."""
        http, csrf = self.organiser()
        try:
            ticket = http.post("/api/live/ticket", headers={"X-CSRF-Token": csrf}).json()["ticket"]
        finally:
            http.close()
        with connect(f"ws://127.0.0.1:{self.hub.port}/ws", open_timeout=5) as ws:
            ws.send(json.dumps({"type": "hello", "v": 1, "ticket": ticket}))
            assert json.loads(ws.recv(5))["type"] == "welcome"
            ws.send(json.dumps({"type": "subscribe",
                                "topic": f"session:{self.prepared.session_id}/unit:{self.prepared.province_unit_id}"}))
            board = Dashboard(ws)
            board.wait(lambda totals: "in_person" in totals)
            yield board


class Dashboard:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.totals: dict[str, Any] = {}

    def wait(self, condition: Any, seconds: float = 10) -> dict[str, Any]:
        """Apply snapshots and changes until `condition(totals)` holds; the totals."""
        deadline = time.monotonic() + seconds
        while not condition(self.totals):
            left = deadline - time.monotonic()
            assert left > 0, f"the dashboard never showed it: {self.totals}"
            message = json.loads(self.ws.recv(left))
            if message["type"] in ("snapshot", "change"):
                self.totals.update(message["data"].get("totals", {}))
        return self.totals


@contextmanager
def served_site(tmp_path: Path, members: int = 300) -> Iterator[Site]:
    """A province of `members` on SQLite, served by one `hoinghi serve` process."""
    settings = load({}, None, database_url=f"sqlite:///{tmp_path / 'kiosk.db'}", secret_key=SECRET,
                    password_time_cost=1, password_memory_kib=8192)
    prepared = asyncio.run(prepare(settings, members=members))
    site = Site(settings, Hub(settings, tmp_path / "server.log").start(), prepared, [])
    try:
        by_credential = {credential_id(t): t for t in prepared.texts}
        bundle = httpx2.get(f"{site.base}/api/kiosk/bundle", params={"session_id": prepared.session_id},
                            headers={"Authorization": f"Bearer {prepared.kiosk_token}"}, timeout=10).json()
        site.delegates = [Delegate(p["person_id"], p["full_name"], p["unit_name"], by_credential[p["credential_id"]])
                          for p in bundle["roster"] if p["credential_id"] in by_credential]
        assert len(site.delegates) >= 4
        yield site
    finally:
        site.hub.stop()  # the test may have replaced it (a restart)
