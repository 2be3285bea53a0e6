"""The kiosk in a real headless Chromium whose fake camera shows a delegate's QR code: enrolled with a
one-time code, it checks the delegate in and the organiser's dashboard counts them; with the server
gone it goes on by name and by a hand-held scanner's typed code, and uploads the queue when it is back."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import chromium
from tests.kiosk_media import forged, qr_picture, write_y4m
from tests.kiosk_site import Site, served_site
from tests.served import Hub

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"


def enrol_and_start(page: Page, site: Site) -> None:
    page.goto(site.base + "/kiosk")
    expect(page.locator("#enrol h1")).to_have_text("Đăng ký máy điểm danh")
    page.fill("#enrol-code", site.enrolment_code())
    page.fill("#enrol-name", "Máy điểm danh cửa chính")
    page.click("#enrol button[type=submit]")
    session = page.locator(f'#session-list button[data-session="{site.prepared.session_id}"]')
    expect(session).to_contain_text("Phiên kiểm thử")
    expect(session).to_contain_text("Đang mở điểm danh")
    session.click()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "kiosk-setup.png"))
    page.click("#start")
    expect(page.locator("#scan")).to_be_visible()


def test_a_kiosk_checks_a_delegate_in_by_camera_and_keeps_going_offline(tmp_path: Path) -> None:
    with served_site(tmp_path) as site:
        first, second, third, fourth = site.delegates[:4]
        video = write_y4m(tmp_path / "camera.y4m", [qr_picture(first.text)], frames_each=10)
        with site.dashboard() as board, chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                                 f"--use-file-for-fake-video-capture={video}") as browser:
            assert board.totals["in_person"] == 0
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            enrol_and_start(page, site)
            result = page.locator("#result")
            expect(result).to_have_attribute("data-outcome", "accepted", timeout=10_000)
            expect(page.locator("#result-title")).to_have_text(f"Xin chào {first.full_name}")
            expect(page.locator("#result-detail")).to_contain_text(first.unit_name)
            page.screenshot(path=str(SCREENSHOTS / "kiosk-accepted.png"))
            assert board.wait(lambda t: t.get("in_person") == 1)["in_person"] == 1
            expect(page.locator("#net")).to_have_text("Trực tuyến")
            page.wait_for_function("() => localStorage.getItem('hoinghi.kiosk.bundle') !== null")
            expect(result).to_be_hidden(timeout=5000)  # back to scanning; the card still in view: no second try
            page.screenshot(path=str(SCREENSHOTS / "kiosk-scanning.png"))
            assert board.totals["in_person"] == 1

            site.hub.stop()  # the network drops
            expect(page.locator("#net")).to_have_text("Ngoại tuyến · 0 lượt chờ gửi", timeout=10_000)
            expect(page.locator("#offline-hint")).to_be_visible()
            page.click("#search-open")  # by name, from the cached roster, without diacritics
            page.fill("#search-input", fold(second.full_name))
            row = page.locator("#search-results li").first
            expect(row).to_contain_text(second.full_name)
            page.screenshot(path=str(SCREENSHOTS / "kiosk-search.png"))
            row.locator("button").click()
            expect(page.locator("#result-title")).to_have_text(f"Xin chào {second.full_name}")
            expect(page.locator("#result-detail")).to_contain_text("ngoại tuyến")
            page.screenshot(path=str(SCREENSHOTS / "kiosk-offline.png"))
            page.locator("#result").click()
            page.keyboard.type(third.text)  # a hand-held scanner types the code, then Enter
            page.keyboard.press("Enter")
            expect(page.locator("#result-title")).to_have_text(f"Xin chào {third.full_name}")
            page.locator("#result").click()
            page.keyboard.type(forged(fourth.text))
            page.keyboard.press("Enter")
            expect(page.locator("#result")).to_have_attribute("data-outcome", "refused")
            expect(page.locator("#result-detail")).to_have_text("Mã bị sửa đổi hoặc giả mạo · ngoại tuyến")
            page.screenshot(path=str(SCREENSHOTS / "kiosk-refused.png"))
            expect(page.locator("#net")).to_have_text("Ngoại tuyến · 3 lượt chờ gửi")

            site.hub = Hub(site.settings, tmp_path / "server.log", port=site.hub.port).start()  # back
            expect(page.locator("#net")).to_have_text("Trực tuyến", timeout=15_000)
            expect(page.locator("#queue-info")).to_contain_text("0 lượt chờ gửi")  # IndexedDB, kiosk_queue.js
            assert errors == []
        with site.dashboard() as board:
            assert board.wait(lambda t: t.get("in_person") == 3)["in_person"] == 3


def fold(name: str) -> str:
    """A name typed without diacritics, as a clerk would."""
    import unicodedata

    plain = unicodedata.normalize("NFD", name).replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in plain if not unicodedata.combining(c)).lower()
