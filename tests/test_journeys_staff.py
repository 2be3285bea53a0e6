"""The organiser's and the hall clerk's journeys in a real Chromium, on a demo started now (issue 20,
acceptance 1 and 2): `hoinghi demo` serves a province seeded this minute, so its first session is open for
check-in; the fake camera shows a delegate's QR code.

- The organiser finds the session open now from the conference list and opens its dashboard.
- The hall clerk goes from the menu to the hall, reports a headcount and sees it on the dashboard, enrols a
  kiosk from the hall's kiosk page, checks a delegate in by camera (the dashboard's per-minute chart gains
  the check-in within two seconds, without a reload) and a namesake by search, choosing the right one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import update

from conference import tables
from conference.text import fold
from tests.browser import chromium, hoinghi_server
from tests.kiosk_media import qr_picture, write_y4m
from web.bootstrap import build
from web.cli import demo_secret
from web.demo import seeding
from web.demo.province import DEMO_PASSWORD
from web.settings import Settings, load

pytestmark = pytest.mark.browser

MEMBERS = 3000
CLERK, ORGANISER = "thuky.giomy", "bantochuc.tinh"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"


@dataclass(frozen=True)
class Demo:
    hall_id: int
    hall_name: str
    session_id: int
    card_holder: str  # the delegate whose QR the camera shows
    card_text: str
    namesake: str  # two delegates of the hall now share this name; the second is checked in by search
    namesake_detail: str  # what tells the second apart (the first's differs)


def demo_settings(directory: Path) -> Settings:
    return load({}, None, database_url=f"sqlite:///{directory / 'hoinghi-demo.db'}",
                secret_key=demo_secret(directory), data_dir=directory)


async def seed_demo(directory: Path) -> Demo:
    """The demo database as `hoinghi demo` builds it now, with two namesakes at the clerk's hall."""
    async with build(demo_settings(directory)) as svc:
        await seeding.seed(svc.engine, svc.conference.passwords, datetime.now(UTC), members=MEMBERS)
        store = svc.conference.store
        clerk = await store.user_by_name(CLERK)
        assert clerk is not None and clerk.scope_unit_id is not None
        [conf] = await store.list_conferences()
        [hall] = [h for h in await store.halls_of(conf.id) if h.unit_id == clerk.scope_unit_id]
        first = (await store.sessions_of(conf.id))[0]
        assert first.checkin_open(datetime.now(UTC))
        invited = [i.person_id for i in await store.invitations_of(conf.id, hall.id)]
        persons = await store.persons_by_ids(invited)
        ordered = sorted(persons.values(), key=lambda p: p.id)
        holder, one, other = ordered[0], ordered[1], next(p for p in ordered[2:] if p.unit_id != ordered[1].unit_id)
        async with svc.engine.begin() as c:  # the second namesake: another cell, the same name
            await c.execute(update(tables.persons).where(tables.persons.c.id == other.id)
                            .values(full_name=one.full_name, search_key=fold(one.full_name)))
        creds = await svc.credentials.current([holder.id])
        units = {u.id: u.name for u in await store.all_units()}
        return Demo(hall.id, hall.name, first.id, holder.full_name, await svc.credentials.text(creds[holder.id]),
                    one.full_name, units[other.unit_id])


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', DEMO_PASSWORD)
    page.click('form button[type="submit"]')
    page.wait_for_url(lambda url: "/login" not in url)


def watched(page: Page, errors: list[str]) -> Page:
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def dismiss(kiosk: Page) -> None:
    """Back to scanning: a tap on the verdict (unless it has gone by itself)."""
    result = kiosk.locator("#result")
    if result.is_visible():
        with contextlib.suppress(PlaywrightTimeout):  # it may go by itself meanwhile
            result.click(timeout=2_000)
    expect(result).to_be_hidden()


def hall_row(board: Page, demo: Demo) -> str:
    return f'#halls tbody tr[data-hall="{demo.hall_id}"]'


def organiser_journey(browser: Browser, base: str, demo: Demo, errors: list[str]) -> None:
    page = watched(browser.new_page(viewport={"width": 1280, "height": 900}), errors)
    sign_in(page, base, ORGANISER)
    page.goto(base + "/conferences")
    page.locator("main a[href^='/conferences/']").first.click()
    row = page.locator(f'#sessions tr[data-session="{demo.session_id}"]')
    expect(row).to_contain_text("Phiên 1")
    row.locator("a.dashboard-link").click()
    expect(page.locator('[data-total="expected"]')).not_to_have_text("—", timeout=10_000)
    expect(page.locator("#halls tbody tr").first).to_be_visible()
    page.close()


def clerk_journey(browser: Browser, base: str, demo: Demo, errors: list[str]) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # one sign-in for the clerk's tabs
    page = watched(context.new_page(), errors)
    sign_in(page, base, CLERK)
    page.click("#nav-halls")  # the menu leads to the clerk's hall
    expect(page.locator("h1")).to_have_text(demo.hall_name)
    expect(page.locator(f'#hall-sessions tr[data-session="{demo.session_id}"]')).to_contain_text("Đang mở điểm danh")

    # a headcount first: the hall has no individual check-ins yet, so the dashboard shows it
    page.locator(f'#hall-sessions tr[data-session="{demo.session_id}"] a.attendance-link').click()
    page.fill('#headcount input[name="present"]', "9999")
    page.click("#headcount button[type=submit]")
    expect(page.locator("#headcount-error")).to_contain_text("không được vượt quá số triệu tập")
    expect(page.locator('#headcount input[name="present"]')).to_have_value("9999")  # the input kept
    page.fill('#headcount input[name="present"]', "7")
    page.click("#headcount button[type=submit]")
    expect(page.locator("#flash")).to_contain_text("Đã lưu báo cáo số lượng: có mặt 7")
    expect(page.locator("#headcount-effect")).to_contain_text("đang được tính")
    board = watched(context.new_page(), errors)
    board.goto(f"{base}/sessions/{demo.session_id}/dashboard")
    row = board.locator(hall_row(board, demo))
    expect(row.locator("span.source")).to_have_text("Báo cáo", timeout=10_000)
    expect(row.locator("td.num").nth(1)).to_have_text("7")

    # the hall page leads to the kiosks: a one-time code, then the kiosk page enrolled with it
    page.goto(f"{base}/halls/{demo.hall_id}")
    page.click("#kiosks-link")
    page.click('button[value="code"]')
    code = page.locator("#enrolment-code").inner_text().strip()
    kiosk = watched(browser.new_page(viewport={"width": 1280, "height": 800}), errors)  # the kiosk PC
    kiosk.goto(base + "/kiosk")
    kiosk.fill("#enrol-code", code)
    kiosk.fill("#enrol-name", "Máy điểm danh cửa chính")
    kiosk.click("#enrol button[type=submit]")
    session = kiosk.locator(f'#session-list button[data-session="{demo.session_id}"]')
    expect(session).to_contain_text("Đang mở điểm danh")
    expect(kiosk.locator("#window-warning")).to_be_hidden()
    later = kiosk.locator("#session-list button").nth(1)  # the second session: not open yet, and says when
    expect(later).to_contain_text("Mở lúc")
    later.click()
    expect(kiosk.locator("#window-warning")).to_contain_text("Chưa đến giờ điểm danh: mở lúc")
    session.click()
    kiosk.click("#start")
    expect(board.locator(hall_row(board, demo))).to_contain_text("Trực tuyến", timeout=5_000)  # online promptly

    # by camera: accepted, and the dashboard's chart gains the check-in without a reload
    expect(kiosk.locator("#result")).to_have_attribute("data-outcome", "accepted", timeout=15_000)
    expect(kiosk.locator("#result-title")).to_have_text(f"Xin chào {demo.card_holder}")
    expect(board.locator("#rate-chart")).to_have_attribute("data-checkins", "1", timeout=2_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    board.screenshot(path=str(SCREENSHOTS / "journey-dashboard.png"))

    # a namesake by search: both are listed, told apart by their cell; the right one is chosen
    dismiss(kiosk)
    kiosk.click("#search-open")
    kiosk.fill("#search-input", fold(demo.namesake))
    rows = kiosk.locator("#search-results li")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=demo.card_holder)).to_have_count(0)
    right = rows.filter(has_text=demo.namesake_detail)
    expect(right).to_have_count(1)
    kiosk.screenshot(path=str(SCREENSHOTS / "journey-namesakes.png"))
    rows.filter(has_not_text=demo.namesake_detail).locator("button").click()  # the wrong one first: undone
    expect(kiosk.locator("#result-title")).to_have_text(f"Xin chào {demo.namesake}")
    kiosk.click("#result-undo")
    expect(kiosk.locator("#result-detail")).to_have_text(f"Đã hoàn tác điểm danh của {demo.namesake}")
    expect(board.locator('[data-total="in_person"]')).to_have_text("1", timeout=5_000)
    expect(board.locator("#rate-chart")).to_have_attribute("data-checkins", "1", timeout=2_000)  # out of the chart
    dismiss(kiosk)
    kiosk.click("#search-open")
    kiosk.fill("#search-input", fold(demo.namesake))
    expect(rows).to_have_count(2)
    expect(rows.locator("button")).to_have_count(2)  # both not checked in
    right.locator("button").click()
    expect(kiosk.locator("#result-title")).to_have_text(f"Xin chào {demo.namesake}")
    dismiss(kiosk)
    kiosk.click("#search-open")
    kiosk.fill("#search-input", fold(demo.card_holder))
    expect(kiosk.locator("#search-results li").first).to_contain_text("Đã điểm danh")  # no button to press again
    expect(board.locator('[data-total="in_person"]')).to_have_text("2", timeout=5_000)  # the undone one not
    expect(board.locator("#rate-chart")).to_have_attribute("data-checkins", "2", timeout=2_000)

    # the headcount no longer counts, and the hall page says why
    page.goto(f"{base}/halls/{demo.hall_id}/sessions/{demo.session_id}")
    expect(page.locator("#headcount-effect")).to_contain_text("đã điểm danh từng người")
    expect(board.locator(hall_row(board, demo)).locator("span.source")).to_have_text("Điểm danh")


def test_the_organiser_and_the_hall_clerk_on_a_demo_started_now(tmp_path: Path) -> None:
    demo = asyncio.run(seed_demo(tmp_path / "demo"))
    video = write_y4m(tmp_path / "camera.y4m", [qr_picture(demo.card_text)], frames_each=10)
    with hoinghi_server("demo", "--dir", str(tmp_path / "demo"), "--members", str(MEMBERS),
                        log=tmp_path / "demo.log") as base, \
            chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                     f"--use-file-for-fake-video-capture={video}") as browser:
        errors: list[str] = []
        organiser_journey(browser, base, demo, errors)
        clerk_journey(browser, base, demo, errors)
        assert errors == []
