"""Two hubs, one truth for files and jobs: two `hoinghi serve` processes on PostgreSQL and a Redis of the
test's own, sharing one data directory as the compose file's volume does. A document uploaded through
one hub downloads from the other; a badge job started on one is polled and downloaded through the other.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import httpx2
import pytest

from tests.served import ORGANISER, SECRET, Hub, ThrowawayRedis, prepare
from tests.test_scaleout import postgres_url, redis_server  # noqa: F401 (fixtures)
from web.settings import load

pytestmark = pytest.mark.postgres


def signed_in(http: httpx2.Client, base: str) -> str:
    """Sign the organiser in through `base`; returns the session's CSRF token (the cookie serves every hub)."""
    page = http.get(f"{base}/login").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = http.post(f"{base}/login", data={"username": ORGANISER[0], "password": ORGANISER[1], "csrf": csrf})
    assert answer.status_code in (200, 303), answer.text
    return str(http.get(f"{base}/api/me").json()["csrf_token"])


def test_a_document_and_a_badge_job_go_through_either_hub(redis_server: ThrowawayRedis,  # noqa: F811 (fixtures)
                                                          postgres_url: str,  # noqa: F811
                                                          tmp_path: Path) -> None:
    shared = tmp_path / "shared"  # the data directory both hubs mount
    settings = load({}, None, database_url=postgres_url, secret_key=SECRET, redis_url=redis_server.url,
                    password_time_cost=1, password_memory_kib=8192, data_dir=shared)
    prepared = asyncio.run(prepare(settings, members=400))
    env = {"HOINGHI_DATA_DIR": str(shared), "HOINGHI_AUTO_MIGRATE": "false"}
    one, other = (Hub(settings, tmp_path / f"hub{i}.log", hub_id=f"h{i}", env=env).start() for i in range(2))
    try:
        with httpx2.Client(timeout=30, follow_redirects=False) as http:
            csrf = signed_in(http, one.base)

            # a document uploaded through one hub ...
            content = b"%PDF-1.4\n" + b"Nghi quyet so 01 " * 2000 + b"\n%%EOF\n"
            uploaded = http.post(f"{one.base}/api/conferences/{prepared.conference_id}/documents",
                                 headers={"X-CSRF-Token": csrf},
                                 data={"title": "Nghị quyết 01", "access": "signed_in"},
                                 files={"file": ("nghi-quyet.pdf", content, "application/pdf")})
            assert uploaded.status_code == 201, uploaded.text
            document_id = uploaded.json()["id"]
            # ... downloads from the other, and lives under the shared data directory
            downloaded = http.get(f"{other.base}/documents/{document_id}/file")
            assert downloaded.status_code == 200, downloaded.text
            assert downloaded.content == content
            sha256 = hashlib.sha256(content).hexdigest()
            assert (shared / "documents" / sha256[:2] / sha256).is_file()

            # a badge job started through one hub ...
            started = http.post(f"{one.base}/halls/{prepared.kiosk_hall_id}/badges", data={"csrf": csrf})
            assert started.status_code == 303, started.text
            page = started.headers["location"]
            status_url = page.removesuffix("/page")
            # ... is polled through the other (its page and its progress) ...
            assert http.get(f"{other.base}{page}").status_code == 200
            deadline = time.monotonic() + 60
            while (status := http.get(f"{other.base}{status_url}").json())["state"] == "running":
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert status["state"] == "done" and status["done"] == status["total"] > 0, status
            # ... and downloaded through the other
            pdf = http.get(f"{other.base}{status_url}.pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            assert pdf.headers["content-type"] == "application/pdf"
            badge_files = [p for p in (shared / "badges").rglob("*") if p.is_file()]
            assert [p.read_bytes() for p in badge_files] == [pdf.content]

            # still only its owner's, on either hub
            http.cookies.clear()
            for hub in (one, other):
                assert http.get(f"{hub.base}{status_url}").status_code in (401, 303)
    finally:
        one.stop()
        other.stop()
