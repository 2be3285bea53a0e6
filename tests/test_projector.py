"""The dashboard's projector mode (issue 15, acceptance 4), in Chromium at 1920×1080 on the demo province's
120 halls: dark, the totals in large figures, the halls a screenful at a time, and no scroll bar.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import chromium, hoinghi_server
from tests.test_dashboard import ORGANISER, SECRET, Prepared, prepare, total_locator
from web.demo import province as demo_data
from web.settings import load

pytestmark = pytest.mark.browser

FULL_HD = {"width": 1920, "height": 1080}
FITS = ("() => document.documentElement.scrollHeight <= innerHeight"
        " && document.documentElement.scrollWidth <= innerWidth")


def figure_px(page: Page, key: str) -> float:
    return float(total_locator(page, key).evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))


def demo_province(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Prepared:
    """The demo province prepared (tests/test_dashboard.py) in a SQLite file that `hoinghi serve` will open."""
    url = f"sqlite:///{tmp_path / 'projector.db'}"
    settings = load({}, None, database_url=url, secret_key=SECRET, password_time_cost=1, password_memory_kib=8192)
    ready = asyncio.run(prepare(settings))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HOINGHI_SECRET_KEY", SECRET)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return ready


def test_the_projector_mode_fits_a_full_hd_screen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ready = demo_province(tmp_path, monkeypatch)
    assert ready.halls >= 120
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base, chromium() as browser:
        page = browser.new_page(viewport=FULL_HD)
        page.goto(base + "/login")
        page.get_by_label("Tên đăng nhập").fill(ORGANISER)
        page.get_by_label("Mật khẩu").fill(demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(base + "/conferences")
        dashboard = f"{base}/sessions/{ready.session_id}/dashboard"
        page.goto(dashboard)
        expect(page.locator("#halls tbody tr")).to_have_count(ready.halls, timeout=10000)
        assert not page.evaluate(FITS)  # the ordinary page scrolls through its 120 halls
        normal = figure_px(page, "expected")

        page.get_by_role("button", name="Máy chiếu").click()  # the toggle: on, and in the address
        expect(page.locator("html")).to_have_class(re.compile(r"\bprojector\b"))
        assert page.url.endswith("?projector=1")
        assert page.evaluate(FITS)
        page.goto(dashboard + "?projector=1")  # a projector's bookmark opens straight in the mode
        expect(page.locator("#halls tbody tr")).to_have_count(ready.halls, timeout=10000)
        expect(total_locator(page, "expected")).not_to_have_text("—")
        assert page.evaluate(FITS)
        assert figure_px(page, "expected") >= 2.5 * normal >= 60  # readable from the back of the hall
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert sum(int(c) for c in re.findall(r"\d+", background)[:3]) < 3 * 40, background  # dark
        expect(page.locator("header.top")).to_be_hidden()
        first = page.locator("#halls tbody tr").first.bounding_box()
        assert first and first["y"] + first["height"] <= FULL_HD["height"]  # the halls are on screen, a page of them
        box = page.locator("#halls-section")
        assert box.evaluate("b => b.scrollHeight > b.clientHeight")  # more halls than one screenful: they turn
        page.wait_for_function("() => document.getElementById('halls-section').scrollTop > 0", timeout=12000)
        assert page.evaluate(FITS)

        page.keyboard.press("Escape")  # and back to the ordinary page
        expect(page.locator("html")).not_to_have_class(re.compile(r"\bprojector\b"))
        assert not page.evaluate(FITS)
