"""Start the machine's Redis and PostgreSQL for the tests when they are not running.

`python scripts/services.py up` is idempotent: a service that answers on its port is left alone.
The commands are those the machine image uses to start its own services.
"""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
import time

REDIS = ("127.0.0.1", 6379)
POSTGRES = ("127.0.0.1", 5432)


def listening(addr: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(addr, timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(addr: tuple[str, int], name: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if listening(addr):
            return
        time.sleep(0.2)
    sys.exit(f"hoinghi: {name} did not start on {addr[0]}:{addr[1]}")


def start_redis() -> None:
    os.makedirs("/var/lib/redis", exist_ok=True)
    os.makedirs("/var/log/redis", exist_ok=True)
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
         "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
        check=True,
    )


def start_postgres() -> None:
    versions = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))
    if not versions:
        sys.exit("hoinghi: PostgreSQL is not installed (apt-get install postgresql)")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=True)


def main() -> None:
    if sys.argv[1:] != ["up"]:
        sys.exit("usage: services.py up")
    if not listening(REDIS):
        print("hoinghi: starting Redis", file=sys.stderr)
        start_redis()
        wait_for(REDIS, "Redis")
    if not listening(POSTGRES):
        print("hoinghi: starting PostgreSQL", file=sys.stderr)
        start_postgres()
        wait_for(POSTGRES, "PostgreSQL")


if __name__ == "__main__":
    main()
