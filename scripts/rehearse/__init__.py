"""The province-scale rehearsal (scripts/rehearsal.py): the deployment, the plan, the crowd, the faults,
the report. The benchmark modules of scripts/bench (its kiosk client, database helpers) are reused."""

import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parents[1] / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
