"""Health and metrics, through the real interfaces: /metrics of a `hoinghi serve` process parsed by
prometheus-client's own parser, its check-in counter equal to the store's count after a burst of kiosk
scans; /readyz 503 while PostgreSQL is unreachable (cut through a TCP relay) and 200 once it is back;
both answer without signing in."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.served import SECRET, Hub, prepare
from tests.test_scaleout import postgres_url  # noqa: F401 (a fixture)
from tests.test_store_outage import Relay, relayed  # noqa: F401 (a fixture)
from web.app import create_app
from web.bootstrap import build
from web.settings import Settings, load

pytestmark = pytest.mark.postgres


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by name and labels, as prometheus-client reads it."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


async def burst(base: str, token: str, session_id: int, texts: list[str]) -> None:
    """Twelve kiosks scan everyone (a tenth twice, with a new nonce) as fast as they are answered."""
    queue = texts + texts[: len(texts) // 10]

    async def kiosk() -> None:
        async with httpx2.AsyncClient(base_url=base, timeout=30,
                                      headers={"Authorization": f"Bearer {token}"}) as http:
            while queue:
                answer = await http.post("/api/checkins", json={"session_id": session_id, "credential": queue.pop(),
                                                                "nonce": uuid.uuid4().hex})
                assert answer.status_code == 200, answer.text

    await asyncio.gather(*(kiosk() for _ in range(12)))


async def stored(settings: Settings, session_id: int) -> int:
    async with build(settings) as svc:
        return sum(c.present for c in await svc.ledger.checkins(session_id))


def test_the_checkin_counter_equals_the_store_after_a_burst(postgres_url: str,  # noqa: F811 (the fixture)
                                                            tmp_path: Path) -> None:
    settings = load({}, None, database_url=postgres_url, secret_key=SECRET, password_time_cost=1,
                    password_memory_kib=8192, data_dir=tmp_path)
    prepared = asyncio.run(prepare(settings, members=800))
    hub = Hub(settings, tmp_path / "hub.log", hub_id="m1",
              env={"HOINGHI_DATA_DIR": str(tmp_path), "HOINGHI_LOG_FORMAT": "json"}).start()
    try:
        with httpx2.Client(base_url=hub.base, timeout=10) as http:
            assert http.get("/healthz").json()["status"] == "ok"  # no sign-in
            assert http.get("/readyz").status_code == 200
            texts = prepared.texts[:400]
            asyncio.run(burst(hub.base, prepared.kiosk_token, prepared.session_id, texts))
            answer = http.get("/metrics")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        found = samples(answer.text)
        in_store = asyncio.run(stored(settings, prepared.session_id))
        assert in_store == len(texts)
        assert total(found, "hoinghi_checkins_total", outcome="accepted", method="qr") == in_store
        assert total(found, "hoinghi_checkins_total") == len(texts) + len(texts) // 10  # every scan, once
        assert total(found, "hoinghi_checkins_total", outcome="repeat") == len(texts) // 10
        assert total(found, "hoinghi_ledger_commit_seconds_count") >= 1
        assert total(found, "hoinghi_ledger_commit_seconds_bucket", le="+Inf") \
            == total(found, "hoinghi_ledger_commit_seconds_count")
        for name in ("hoinghi_event_loop_lag_seconds", "hoinghi_scans_per_second", "hoinghi_halls_online",
                     "hoinghi_slow_consumer_closes_total", "hoinghi_fanout_seconds_count", "hoinghi_ready"):
            assert any(n == name for n, _ in found), name
        assert {dict(ls)["kind"] for n, ls in found if n == "hoinghi_live_connections"} \
            == {"kiosk", "participant", "staff"}
        assert "Bearer" not in answer.text and prepared.texts[0] not in answer.text  # nothing personal
    finally:
        hub.stop()
    # logging: one JSON object a line, with time, level, logger and message; the application's INFO lines too
    lines = [json.loads(line) for line in (tmp_path / "hub.log").read_text().splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["level"] == "INFO" and line["logger"] == "web.metrics" and "m1" in line["message"]
               for line in lines)
    assert not [line for line in lines if any(t in line["message"] for t in prepared.texts[:400])]


def test_readyz_is_503_while_the_store_is_unreachable(relayed: tuple[Relay, Settings]  # noqa: F811 (the fixture)
                                                      ) -> None:
    relay, settings = relayed
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:  # /metrics: loopback only
        assert client.get("/readyz").json() == {"ready": True, "store": True, "redis": None}
        relay.cut()
        away = client.get("/readyz")
        assert away.status_code == 503 and away.json()["store"] is False
        assert client.get("/healthz").status_code == 200  # the process still answers
        assert "hoinghi_ready 0.0" in client.get("/metrics").text
        relay.restore()
        deadline = time.monotonic() + 20
        while (back := client.get("/readyz")).status_code != 200:  # the pool drops its dead connections
            assert time.monotonic() < deadline, back.text
            time.sleep(0.2)
        assert back.json()["store"] is True
        assert "hoinghi_ready 1.0" in client.get("/metrics").text


def test_promtool_accepts_the_prometheus_config_and_the_dashboard_is_provisioned(tmp_path: Path) -> None:
    """deploy/monitoring/: Prometheus scrapes every hub of the compose file; Grafana's dashboard parses."""
    root = Path(__file__).resolve().parent.parent / "deploy" / "monitoring"
    dashboard = json.loads((root / "grafana/dashboards/conference-day.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert all(m in exprs for m in ("hoinghi_checkins_total", "hoinghi_halls_online", "hoinghi_ready"))
    config = (root / "prometheus.yml").read_text()
    assert all(f"hub{i}:8000" in config for i in (1, 2, 3))
    assert "credentials_file: metrics_token" in config  # the hubs answer /metrics to the token only
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus: apt-get install -y prometheus)")
    scraped = tmp_path / "prometheus.yml"  # as compose's prometheus service runs it: the token file beside it
    scraped.write_text(config)
    (tmp_path / "metrics_token").write_text("m" * 40)
    checked = subprocess.run([promtool, "check", "config", str(scraped)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
