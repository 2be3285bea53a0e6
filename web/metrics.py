"""The process's Prometheus metrics (prometheus-client), exposed at /metrics (web/routes/health.py).

Counters and histograms are declared here, once, on this module's registry, and bumped where the thing
happens (a check-in: one counter increment per committed scan, nothing more on the hot path). What a
scrape can read off the live objects (connections by kind, halls online, WebRTC viewers, HLS segments)
is collected at scrape time by `LiveCollector`, registered in the lifespan (`Monitor`), so it costs the
hub nothing between scrapes. `Monitor` also measures the event loop's lag and the scans per second.

Who may scrape (`scrape_refusal`): with `HOINGHI_METRICS_TOKEN` set, whoever sends it as
`Authorization: Bearer <token>` (Prometheus, deploy/monitoring/prometheus.yml); without it, only this
machine (a loopback client address). Nobody else, whatever port of a hub they reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from web.live.hub import Hub
    from web.media.service import MediaService

log = logging.getLogger(__name__)
REGISTRY = CollectorRegistry()
FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CHECKINS = Counter("hoinghi_checkins", "Scans committed by the ledger, by outcome and method",
                   ["outcome", "method"], registry=REGISTRY)
LEDGER_COMMIT = Histogram("hoinghi_ledger_commit_seconds", "One group commit of the ledger (a batch of scans)",
                          buckets=FAST, registry=REGISTRY)
SCANS_PER_SECOND = Gauge("hoinghi_scans_per_second", "Scans committed per second over the last 10 s",
                         registry=REGISTRY)
FANOUT = Histogram("hoinghi_fanout_seconds", "Writing one live frame to all its subscribers", buckets=FAST,
                   registry=REGISTRY)
SLOW_CLOSES = Counter("hoinghi_slow_consumer_closes", "Live connections closed because they did not keep up",
                      registry=REGISTRY)
LOOP_LAG = Gauge("hoinghi_event_loop_lag_seconds", "How late the event loop ran a 0.5 s timer, last measured",
                 registry=REGISTRY)
LOOP_LAG_HISTOGRAM = Histogram("hoinghi_event_loop_lag", "How late the event loop runs its timers (seconds)",
                               buckets=FAST, registry=REGISTRY)
FACE_DECISIONS = Counter("hoinghi_face_decisions", "Faces decided at kiosks, by decision", ["decision"],
                         registry=REGISTRY)
FACE_LATENCY = Histogram("hoinghi_face_decision_seconds", "From a kiosk's frames to the face decisions",
                         buckets=FAST, registry=REGISTRY)
READY = Gauge("hoinghi_ready", "1 while the store (and Redis, when configured) answered the last /readyz",
              registry=REGISTRY)

HALL_ONLINE = timedelta(seconds=60)  # a hall seen this recently is online (conference/halls.py connection_at)
LAG_PERIOD = 0.5


def committed(outcomes: list[tuple[str, str]], seconds: float) -> None:
    """The ledger committed a batch: (outcome, method) of each scan it recorded, in `seconds`."""
    LEDGER_COMMIT.observe(seconds)
    for outcome, method in outcomes:
        CHECKINS.labels(outcome, method).inc()


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def scrape_refusal(token: str, authorization: str, client: str | None) -> tuple[int, str] | None:
    """Why a scrape with this `Authorization` header from `client` is refused (its status and a line), or
    None when it may read the metrics: the bearer token when one is configured, else a loopback client."""
    if token:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return 401, "the metrics need `Authorization: Bearer <HOINGHI_METRICS_TOKEN>`"
    if _loopback(client):
        return None
    return 403, "the metrics answer this machine only; set HOINGHI_METRICS_TOKEN to scrape from elsewhere"


def exposition() -> tuple[bytes, str]:
    """The text format of every metric of this process, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def connection_kind(conn: object) -> str:
    if getattr(conn, "device", None) is not None:
        return "kiosk"
    user = getattr(conn, "user", None)
    return "participant" if user is not None and user.role.value == "participant" else "staff"


class LiveCollector(Collector):
    """Read at scrape time: live connections by kind, halls online, WebRTC viewers and HLS segments."""

    def __init__(self, hub: Hub, media: MediaService) -> None:
        self.hub = hub
        self.media = media

    def collect(self) -> Iterator[Metric]:
        conns = GaugeMetricFamily("hoinghi_live_connections", "Live hub connections, by kind", labels=["kind"])
        counts = {"kiosk": 0, "participant": 0, "staff": 0}
        for conn in list(self.hub.conns):
            counts[connection_kind(conn)] += 1
        for kind, n in counts.items():
            conns.add_metric([kind], n)
        yield conns
        now = datetime.now(UTC)
        halls = GaugeMetricFamily("hoinghi_halls_online", "Halls whose kiosk or screen was heard in the last 60 s")
        halls.add_metric([], sum(now - at <= HALL_ONLINE for at in list(self.hub.presence.hall_seen.values())))
        yield halls
        viewers = GaugeMetricFamily("hoinghi_webrtc_viewers", "WebRTC viewers on this hub, by session",
                                    labels=["session"])
        segments = GaugeMetricFamily("hoinghi_hls_segments", "HLS segments cut by this hub, by session",
                                     labels=["session"])
        for session_id, broadcast in list(self.media.broadcasts.items()):
            viewers.add_metric([str(session_id)], broadcast.channel.viewer_count)
            muxer = broadcast.muxer
            segments.add_metric([str(session_id)], muxer.stats.segments if muxer is not None else 0)
        yield viewers
        yield segments


class Monitor:
    """Built once in the lifespan: registers the live collector, measures the loop's lag every 0.5 s and
    the scans per second over the last 10 s."""

    def __init__(self, hub: Hub, media: MediaService) -> None:
        self.collector = LiveCollector(hub, media)
        self._task: asyncio.Task[None] | None = None
        self._scans: deque[tuple[float, float]] = deque(maxlen=21)

    async def start(self) -> None:
        REGISTRY.register(self.collector)
        log.info("hub %s serving; metrics at /metrics, readiness at /readyz", self.collector.hub.hub_id)
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="metrics-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(KeyError):
            REGISTRY.unregister(self.collector)

    async def _watch(self) -> None:
        while True:
            due = time.perf_counter() + LAG_PERIOD
            await asyncio.sleep(LAG_PERIOD)
            lag = max(0.0, time.perf_counter() - due)
            LOOP_LAG.set(lag)
            LOOP_LAG_HISTOGRAM.observe(lag)
            self._scans.append((time.perf_counter(), total_scans()))
            (t0, n0), (t1, n1) = self._scans[0], self._scans[-1]
            SCANS_PER_SECOND.set((n1 - n0) / (t1 - t0) if t1 > t0 else 0.0)


def total_scans() -> float:
    return sum(s.value for m in CHECKINS.collect() for s in m.samples if s.name.endswith("_total"))


def faces_decided(decisions: list[str], seconds: float) -> None:
    """A kiosk's frames were analysed in `seconds`: one decision per face found."""
    FACE_LATENCY.observe(seconds)
    for decision in decisions:
        FACE_DECISIONS.labels(decision).inc()
