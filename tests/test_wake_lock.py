"""Screen Wake Lock on the kiosk page (issue 15), in Chromium: held while the page is shown, and harmless
where the browser has no such API. (Asking again after the page was hidden is not driven here: a headless
Chromium never hides a page.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import chromium, hoinghi_server
from tests.test_journeys_member_presenter import served

pytestmark = pytest.mark.browser


def test_the_kiosk_keeps_its_screen_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served(tmp_path, monkeypatch)
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base, chromium() as browser:
        context = browser.new_context()
        kiosk = context.new_page()
        kiosk.goto(base + "/kiosk")
        html = kiosk.locator("html")
        expect(html).to_have_attribute("data-wake-lock", "held")

        old = browser.new_page()  # a browser without the API: the kiosk page works as before
        old.add_init_script("delete Navigator.prototype.wakeLock")
        old.goto(base + "/kiosk")
        expect(old.locator("html")).to_have_attribute("data-wake-lock", "unsupported")
        expect(old.locator("#enrol h1")).to_have_text("Đăng ký máy điểm danh")
