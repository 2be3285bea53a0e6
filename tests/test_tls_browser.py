"""A hall PC's Chromium against the scaled-out deployment behind nginx's TLS, as docker-compose.yml has it
(scripts/rehearse/deployment.py: the compose services on this machine, the `tls` service's own CA and
certificate): the browser trusts that CA the way the README tells a Linux hall PC to (its NSS database),
signs in through the page, keeps its Secure session cookie and asks with it for a kiosk enrolment code;
the kiosk page (another profile: the hall's kiosk PC) enrols with that code and checks a delegate in from
a fake camera showing their QR code, over HTTPS and WSS."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser import CHROMIUM, FLAGS
from tests.conftest import POSTGRES_ADMIN_URL
from tests.kiosk_media import qr_picture, write_y4m
from tests.served import ORGANISER, Prepared, prepare
from web.settings import load

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts" / "bench"), str(ROOT / "scripts")]
from rehearse.deployment import Deployment  # noqa: E402  (scripts/, as the rehearsal runs it)

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
CERTUTIL = shutil.which("certutil")


@pytest.fixture
def deployment() -> Iterator[tuple[Deployment, Prepared]]:
    """The store on the test server, Redis, the migration, a small province, three hubs and nginx (TLS)."""
    # where nginx's workers (nobody) may write their caches, unlike pytest's private tmp_path
    work = Path(tempfile.mkdtemp(prefix="hoinghi-tls-browser-"))
    running = Deployment(work, POSTGRES_ADMIN_URL, {})
    try:
        running.start_stores()
        settings = load(running.env, None, password_time_cost=1, password_memory_kib=8192)
        prepared = asyncio.run(prepare(settings, members=300))
        running.start_hubs()
        yield running, prepared
    finally:
        running.close()
        shutil.rmtree(work, ignore_errors=True)


def trusting_home(home: Path, ca: Path) -> Path:
    """A home whose NSS database trusts the CA for websites (`certutil`, as on a Linux hall PC)."""
    if CERTUTIL is None:
        pytest.fail("certutil is not installed (apt-get install libnss3-tools)")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    for args in (["-N", "--empty-password"], ["-A", "-t", "C,,", "-n", "hoinghi local CA", "-i", str(ca)]):
        subprocess.run([CERTUTIL, "-d", f"sql:{nssdb}", *args], check=True, capture_output=True, timeout=30)
    return home


def test_chromium_signs_in_and_checks_a_delegate_in_through_nginx_tls(
        deployment: tuple[Deployment, Prepared], tmp_path: Path) -> None:
    running, prepared = deployment
    front = running.front
    base = f"https://{front.host}:{front.port}"
    home = trusting_home(tmp_path / "home", Path(front.ca))
    video = write_y4m(tmp_path / "camera.y4m", [qr_picture(prepared.texts[0])], frames_each=10)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, env={**os.environ, "HOME": str(home)},
            args=[*FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  f"--use-file-for-fake-video-capture={video}"])
        try:
            context = browser.new_context()  # certificate errors are not ignored: only the CA is trusted
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            answer = page.goto(base + "/login")
            assert answer is not None and answer.ok
            assert answer.headers["strict-transport-security"] == "max-age=31536000"
            assert page.evaluate("window.isSecureContext") is True  # cameras and WebCrypto allowed
            page.fill("input[name=username]", ORGANISER[0])
            page.fill("input[name=password]", ORGANISER[1])
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)
            [cookie] = [c for c in context.cookies() if c["name"] == "hoinghi"]
            assert cookie["secure"] and cookie["httpOnly"]  # HOINGHI_SECURE_COOKIES, kept over HTTPS

            code = page.evaluate("""async (hall) => {
                const me = await (await fetch('/api/me')).json();
                const answer = await fetch(`/api/halls/${hall}/enrolment-codes`,
                                           {method: 'POST', headers: {'X-CSRF-Token': me.csrf_token}});
                return (await answer.json()).code;
            }""", prepared.kiosk_hall_id)
            assert isinstance(code, str) and len(code) == 8

            page = browser.new_context().new_page()  # the hall's kiosk PC, enrolled with that code
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "/kiosk")
            expect(page.locator("#enrol h1")).to_have_text("Đăng ký máy điểm danh")
            page.fill("#enrol-code", code)
            page.fill("#enrol-name", "Máy điểm danh qua HTTPS")
            page.click("#enrol button[type=submit]")
            session = page.locator(f'#session-list button[data-session="{prepared.session_id}"]')
            expect(session).to_contain_text("Phiên kiểm thử")
            session.click()
            page.click("#start")
            expect(page.locator("#result")).to_have_attribute("data-outcome", "accepted", timeout=15_000)
            expect(page.locator("#result-title")).to_contain_text("Xin chào")
            expect(page.locator("#net")).to_have_text("Trực tuyến")  # its live link: WSS through nginx
            assert errors == []
        finally:
            browser.close()
    assert not running.crashed()
