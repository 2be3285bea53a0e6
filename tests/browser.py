"""Helpers for real-browser tests: Debian's Chromium driven by Playwright, and servers in subprocesses."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
HOINGHI = str(Path(sys.executable).parent / "hoinghi")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_http(url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@contextmanager
def hoinghi_server(*args: str, log: Path, ready_path: str = "/login", seconds: float = 120
                   ) -> Iterator[str]:
    """Run `hoinghi ARGS --port <free>` until the block ends; yields the base URL."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([HOINGHI, *args, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(base + ready_path, process, seconds)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def chromium(*extra_flags: str) -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *extra_flags])
        try:
            yield browser
        finally:
            browser.close()
