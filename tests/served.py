"""Real server processes for tests: a prepared province, `hoinghi serve` hubs, a throwaway Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conference.accounts import Role, User
from tests.browser import free_port, wait_for_http
from web.bootstrap import build
from web.demo import seeding
from web.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SECRET = "served-test-secret-key-0123456789abcdef"
ORGANISER = ("bantochuc.tinh", "hoinghi-demo")


@dataclass(frozen=True)
class Prepared:
    session_id: int
    conference_id: int
    province_unit_id: int
    kiosk_token: str
    kiosk_hall_id: int
    texts: list[str]  # QR texts of every invited member (those of other halls are accepted, flagged)


async def prepare(settings: Settings, members: int = 3000) -> Prepared:
    """The demo province with a session whose check-in is open now and an enrolled kiosk."""
    async with build(settings) as svc:
        await seeding.seed(svc.engine, svc.conference.passwords, datetime.now(UTC), members=members)
        admin = User(0, "system", "system", Role.ADMIN, None)
        [conf] = await svc.conference.store.list_conferences()
        start = datetime.now(UTC) + timedelta(minutes=20)
        session = await svc.conference.add_session(admin, conf.id, "Phiên kiểm thử", start, start + timedelta(hours=2))
        invited = await svc.conference.store.invitations_of(conf.id)
        hall = max({i.hall_id for i in invited}, key=lambda h: sum(i.hall_id == h for i in invited))
        people = [i.person_id for i in invited]
        creds = await svc.credentials.current(people)
        texts = [await svc.credentials.text(creds[p]) for p in people]
        code, _ = await svc.devices.issue_enrolment_code(hall, None)
        _, token = await svc.devices.enrol(code, "Kiosk kiểm thử")
        return Prepared(session.id, conf.id, conf.organiser_unit_id, token, hall, texts)


class Hub:
    """One `hoinghi serve` process."""

    def __init__(self, settings: Settings, log: Path, hub_id: str = "", port: int = 0,
                 env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.env = env or {}  # more of the environment (HOINGHI_DATA_DIR, HOINGHI_LOG_FORMAT, …)
        self.log = log
        self.hub_id = hub_id
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.frame_problems = log.with_name(log.name + ".frames")  # frames breaking /api/asyncapi.json

    def start(self) -> Hub:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": self.settings.database_url,
               "HOINGHI_SECRET_KEY": SECRET, "REDIS_URL": self.settings.redis_url, "HOINGHI_HUB_ID": self.hub_id,
               "HOINGHI_TEST_FRAME_PROBLEMS": str(self.frame_problems), "PYTHONPATH": str(ROOT), **self.env}
        with self.log.open("ab") as out:  # tests.served_hub: `hoinghi serve` checking its frames against the contract
            command = [sys.executable, "-m", "tests.served_hub", "serve", "--port", str(self.port)]
            self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        wait_for_http(self.base + "/login", self.process, 60)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.assert_frames_follow_the_contract()

    def assert_frames_follow_the_contract(self) -> None:
        problems = self.frame_problems.read_text().splitlines() if self.frame_problems.exists() else []
        assert not problems, f"hub {self.hub_id or self.port}: live frames breaking /api/asyncapi.json: {problems[:5]}"


class ThrowawayRedis:
    """A Redis server of the test's own, on a free port, that the test may stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ThrowawayRedis:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() \
                    == b"PONG":
                return self
            time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
