"""Run a Python module under cProfile counting CPU time, not wall time (a shared machine's waits
would otherwise land on whatever function happened to be running).

    python scripts/bench/cpu_profile.py OUT.prof web.cli serve --port 8000
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    out, module, *rest = sys.argv[1:]
    sys.argv = [module, *rest]
    profile = cProfile.Profile(time.process_time)
    try:
        profile.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    finally:
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
