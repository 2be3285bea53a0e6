"""`hoinghi serve --workers N`: N server processes behind one port.

Each worker is a forked process with a listening socket of its own on the same address, bound with
`SO_REUSEPORT`: the kernel spreads new connections over the workers (by their addresses' hash), so no
process accepts for the others. A worker is a whole hub (its own event loop, store connections, live hub),
so the state they share must live outside them: the PostgreSQL store and the Redis bus (`refusal`). SQLite
and the in-process bus live in one process, and several workers over them are refused.

The parent only supervises: SIGINT or SIGTERM is passed on to every worker, which finishes what it has
accepted (the ledger commits what is queued) and exits. A worker that ends by itself (it could not bind,
it crashed) stops the others and the parent exits with its status, for the service manager to restart the
whole (compose, systemd); a worker whose parent dies is sent SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from types import FrameType

from sqlalchemy.engine import make_url

from web.settings import Settings

log = logging.getLogger(__name__)
WORKERS_MAX = 64
PR_SET_PDEATHSIG = 1


def refusal(settings: Settings, workers: int) -> str | None:
    """Why `workers` processes cannot serve these settings (None: they can)."""
    if workers == 1:
        return None
    if not 1 <= workers <= WORKERS_MAX:
        return f"--workers is 1 to {WORKERS_MAX}, not {workers}"
    shared = make_url(settings.database_url).get_backend_name() == "postgresql" and settings.redis_url
    if not shared:
        return (f"--workers {workers} needs state every worker shares: a PostgreSQL DATABASE_URL and a "
                "REDIS_URL (SQLite and the in-process bus live in one process); serve one worker instead")
    return None


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port beside the other workers' (`SO_REUSEPORT`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: an orphan is the service manager's to stop
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _worker(number: int, host: str, port: int, run: Callable[[int, socket.socket], None]) -> int:
    os.setpgid(0, 0)  # a terminal's Ctrl-C reaches the parent only, which passes it on once
    _die_with_parent()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)  # the server installs its own; until then, stop
    try:
        sock = listening_socket(host, port)
    except OSError as e:
        print(f"hoinghi: worker {number} cannot listen on {host}:{port}: {e.strerror}", file=sys.stderr)
        return 2
    try:
        run(number, sock)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def serve(workers: int, host: str, port: int, run: Callable[[int, socket.socket], None]) -> int:
    """Fork `workers` processes, each calling `run(number, its socket)` (numbers from 1), and supervise them
    until they have all ended; the exit status: 0, or the first status a worker ended with by itself."""
    children: dict[int, int] = {}  # pid -> worker number
    for number in range(1, workers + 1):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = _worker(number, host, port, run)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        children[pid] = number
    stopping = False

    def stop(signum: int, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("serving on %s:%d with %d workers (pids %s)", host, port, workers, " ".join(map(str, children)))
    status = 0
    try:
        while children:
            try:
                pid, raw = os.wait()
            except ChildProcessError:
                break
            if pid not in children:
                continue
            number = children.pop(pid)
            code = os.waitstatus_to_exitcode(raw)
            if not stopping:
                print(f"hoinghi: worker {number} (pid {pid}) ended with status {code}; stopping the others",
                      file=sys.stderr)
                status = code if code > 0 else 1
                stop(signal.SIGTERM)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
