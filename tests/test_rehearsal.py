"""The province rehearsal (scripts/rehearsal.py) at small scale, with every fault at once: real nginx,
three real hubs, a PostgreSQL cluster and a Redis of its own, kiosks with real credentials, participants
and dashboards over the live hub. A hub is SIGKILLed, Redis stopped for 10 s, PostgreSQL restarted, an
offline kiosk uploads its queue, participants reconnect all at once: nothing acknowledged may be lost,
nobody counted twice, no client left out, and every dashboard must end on the store's numbers.

Wall-clock goals (dashboard lag, upload within 10 s) are the full rehearsal's to check, not this test's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]
LAST = re.compile(r"halls=(\d+) checkins=(\d+) lost=(\d+) duplicates=(\d+) dashboard_lag_p99_ms=(\S+) errors=(\d+)")
OFFLINE = 300


def test_a_small_rehearsal_survives_every_fault() -> None:
    command = [sys.executable, str(ROOT / "scripts" / "rehearsal.py"), "--members", "20000", "--halls", "12",
               "--people", "1500", "--viewers", "200", "--sign-ins", "10", "--dashboards", "3", "--minutes", "1",
               "--faults", "all", "--stop-redis", "10", "--offline-kiosk", str(OFFLINE), "--reconnect-storm", "100"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-4000:]
    lines = run.stdout.strip().splitlines()
    found = LAST.fullmatch(lines[-1])
    assert found, run.stdout
    halls, checkins, lost, duplicates, _, errors = found.groups()
    assert (int(lost), int(duplicates), int(errors)) == (0, 0, 0), run.stdout
    assert int(halls) == 12 and int(checkins) >= 1400, run.stdout  # the people who came (3 % stay away)

    def line(prefix: str) -> str:
        return next((x for x in lines if x.startswith(prefix)), f"(no line {prefix!r})")

    assert re.search(r"\s yes: \d+ dashboards show", line("converged on the store")), run.stdout
    for fault in ("kill-hub", "stop-redis", "restart-postgres", "offline-kiosk", "reconnect-storm"):
        assert line(f"fault {fault}:").startswith("fault"), f"no {fault} in the report:\n{run.stdout}"
    assert "answering again" in line("fault kill-hub:"), run.stdout
    assert f"accepted {OFFLINE}" in line("fault offline-kiosk:"), run.stdout  # the whole queue, once
    assert "100 participants dropped at once, 100 back" in line("fault reconnect-storm:"), run.stdout
