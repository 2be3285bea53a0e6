"""Faults, at fixed points of the arrivals so that their effects can be told apart:

| fault | when (share of the arrivals' span) | what |
|---|---|---|
| `--kill-hub` | 0.25 | SIGKILL of one hub; started again `--hub-down` s later, as compose's restart policy would |
| `--stop-redis S` | 0.40 | Redis stopped for S seconds, then started again (empty, as compose runs it) |
| `--reconnect-storm N` | 0.60 | N participants lose the network at once and all reconnect at once (client side) |
| `--restart-postgres` | 0.75 | PostgreSQL stopped (fast shutdown), started `--postgres-down` s later |
| `--offline-kiosk N` | 0.88 | a kiosk that queued N scans over the last 10 minutes offline uploads them (client side) |

The server-side ones run here, in the coordinator, between its progress checks.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from .compose import HOST
from .deployment import Deployment

AT = {"kill_hub": 0.25, "stop_redis": 0.40, "reconnect_storm": 0.60, "restart_postgres": 0.75, "offline_kiosk": 0.88}
KILLED_HUB = 1  # the second hub


@dataclass(frozen=True)
class FaultOptions:
    kill_hub: bool
    hub_down: float
    stop_redis: float  # seconds, 0: not
    restart_postgres: bool
    postgres_down: float
    offline_kiosk: int
    reconnect_storm: int

    def client_schedule(self, seconds: float) -> dict[str, float]:
        """When the client-side faults happen, seconds after the arrivals begin."""
        out = {}
        if self.reconnect_storm:
            out["reconnect_storm"] = AT["reconnect_storm"] * seconds
        if self.offline_kiosk:
            out["offline_kiosk"] = AT["offline_kiosk"] * seconds
        return out

    @property
    def any(self) -> bool:
        return bool(self.kill_hub or self.stop_redis or self.restart_postgres or self.offline_kiosk
                    or self.reconnect_storm)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/login", timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Faults:
    """The server-side faults of a run: `tick(now)` does what is due; `marks` says when each thing happened."""

    deployment: Deployment
    options: FaultOptions
    t0: float
    seconds: float
    marks: dict[str, float] = field(default_factory=dict)
    events: list[tuple[float, str, Callable[[float], None]]] = field(default_factory=list)
    waiting_for_hub: bool = False

    def __post_init__(self) -> None:
        o, at = self.options, self.t0
        if o.kill_hub:
            self.events.append((at + AT["kill_hub"] * self.seconds, "kill hub", self._kill))
            self.events.append((at + AT["kill_hub"] * self.seconds + o.hub_down, "restart hub", self._restart))
        if o.stop_redis:
            self.events.append((at + AT["stop_redis"] * self.seconds, "stop redis", self._stop_redis))
            self.events.append((at + AT["stop_redis"] * self.seconds + o.stop_redis, "start redis", self._start_redis))
        if o.restart_postgres:
            when = at + AT["restart_postgres"] * self.seconds
            self.events.append((when, "stop postgres", self._stop_postgres))
            self.events.append((when + o.postgres_down, "start postgres", self._start_postgres))
        self.events.sort(key=lambda e: e[0])
        for name in ("reconnect_storm", "offline_kiosk"):
            if name in o.client_schedule(self.seconds):
                self.marks[name] = at + o.client_schedule(self.seconds)[name]

    def tick(self, now: float, say: Callable[[str], None]) -> None:
        while self.events and self.events[0][0] <= now:
            _, label, action = self.events.pop(0)
            say(f"fault: {label}")
            action(now)
        if self.waiting_for_hub and _answers(self.deployment.hubs[KILLED_HUB].port):
            self.waiting_for_hub = False
            self.marks["hub_back"] = now
            say("fault: the killed hub answers again")

    @property
    def pending(self) -> bool:
        return bool(self.events) or self.waiting_for_hub

    def _kill(self, now: float) -> None:
        self.deployment.hubs[KILLED_HUB].kill()
        self.marks["hub_killed"] = now

    def _restart(self, now: float) -> None:
        self.deployment.hubs[KILLED_HUB].start(wait=False)
        self.marks["hub_restarted"] = now
        self.waiting_for_hub = True

    def _stop_redis(self, now: float) -> None:
        self.deployment.redis.stop()
        self.marks["redis_stopped"] = now

    def _start_redis(self, now: float) -> None:
        self.deployment.redis.start()
        self.marks["redis_back"] = time.monotonic()

    def _stop_postgres(self, now: float) -> None:
        self.deployment.postgres.stop("fast")
        self.marks["postgres_stopped"] = now

    def _start_postgres(self, now: float) -> None:
        self.deployment.postgres.start()
        self.marks["postgres_back"] = time.monotonic()
