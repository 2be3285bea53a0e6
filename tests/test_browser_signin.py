"""A real headless Chromium against the real demo server: the organiser signs in and sees the conference."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import chromium, hoinghi_server

pytestmark = pytest.mark.browser


def test_demo_organiser_sees_the_conference_in_vietnamese(tmp_path: Path) -> None:
    with hoinghi_server("demo", "--dir", str(tmp_path / "demo"), log=tmp_path / "demo.log") as base, \
            chromium() as browser:
        page = browser.new_page()
        page.goto(base + "/")
        assert page.locator("html").get_attribute("lang") == "vi"
        page.get_by_label("Tên đăng nhập").fill("bantochuc.tinh")
        page.get_by_label("Mật khẩu").fill("sai-mat-khau")
        page.get_by_role("button", name="Đăng nhập").click()
        assert page.get_by_role("alert").inner_text() == "Sai tên đăng nhập hoặc mật khẩu."
        page.get_by_label("Mật khẩu").fill("hoinghi-demo")
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(base + "/conferences")
        assert page.get_by_role("heading", level=1).inner_text() == "Hội nghị"
        page.get_by_role("link", name="Hội nghị học tập, quán triệt Chuyên đề năm 2026").click()
        assert page.locator(".summary").inner_text() == "120 điểm cầu · 68.600 đại biểu"
        assert page.locator("#halls tbody tr").count() == 120
        assert page.get_by_role("cell", name="Điểm cầu chính", exact=True).count() == 1
        page.screenshot(path="/tmp/conference.png", full_page=False)
        page.get_by_role("link", name="English").click()
        assert page.locator(".summary").inner_text() == "120 halls · 68,600 delegates"
