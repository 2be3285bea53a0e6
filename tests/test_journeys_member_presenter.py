"""Two users' journeys in Chromium (issue 20), on a demo started now (the demo province seeded this minute, its
first session open for check-in): the member on a phone (390×844) and the presenter.

The member signs in on a phone: the header is one row with a compact menu, the QR code is on screen
without scrolling, `/me` says at which hall they are expected and that they are checked in (and when),
the feedback link of a conference preselects it and a refused form keeps the input, said in Vietnamese.
The presenter goes on air and off with a fake camera: before, "not on air" and no recording badge; on
air, live at a viewer too; "Dừng phát" asks first; after, the viewer sees no viewer count nor
"Đang ghi hình". A hall's screen with nobody given the floor shows no "this hall has the floor" picture.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium, hoinghi_server
from tests.test_media_browser import FAKE_MEDIA
from web.bootstrap import build
from web.demo import seeding
from web.demo.province import DEMO_PASSWORD
from web.settings import Settings, load

pytestmark = pytest.mark.browser

SECRET = "journeys-browser-secret-key-0123456789"
PHONE = {"width": 390, "height": 844}
MEMBERS = 3000
MEMBER, PRESENTER, CLERK = "daibieu", "bantochuc.tinh", "thuky.giomy"


@dataclass(frozen=True)
class Demo:
    conference_id: int
    session_id: int  # the first session, open for check-in now
    hall_id: int  # the member's hall, the clerk's too
    hall_name: str
    qr_text: str  # the member's own QR
    kiosk_token: str  # a kiosk enrolled at the member's hall


async def seed_demo(settings: Settings) -> Demo:
    """The demo province as `hoinghi demo` builds it, seeded this minute (smaller), and a kiosk at the member's
    hall to check them in."""
    async with build(settings) as svc:
        await seeding.seed(svc.engine, svc.conference.passwords, datetime.now(UTC), members=MEMBERS)
        store = svc.conference.store
        member, organiser = await store.user_by_name(MEMBER), await store.user_by_name(PRESENTER)
        assert member is not None and member.person_id is not None and organiser is not None
        [conf] = await store.list_conferences()
        first = (await store.sessions_of(conf.id))[0]
        assert first.checkin_open(datetime.now(UTC))
        [invitation] = [i for i in await store.invitations_of(conf.id) if i.person_id == member.person_id]
        hall = await store.get_hall(invitation.hall_id)
        code, _ = await svc.devices.issue_enrolment_code(hall.id, organiser.id)
        _, token = await svc.devices.enrol(code, "Kiosk thử nghiệm")
        card = await svc.cards.own(member)
        return Demo(conf.id, first.id, hall.id, hall.name, card.text, token)


def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: str) -> Demo:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    settings = load({}, None, database_url=url, secret_key=SECRET)
    demo = asyncio.run(seed_demo(settings))
    for name, value in {"DATABASE_URL": url, "HOINGHI_SECRET_KEY": SECRET, "HOINGHI_DATA_DIR": str(tmp_path),
                        **extra}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return demo


def signed_in(browser: Browser, base: str, username: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(base + "/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def test_the_member_on_a_phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = served(tmp_path, monkeypatch)
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base, chromium() as browser:
        page = signed_in(browser, base, MEMBER)
        page.set_viewport_size(PHONE)
        page.goto(base + "/me")
        kiosk = page.context.request  # the hall's kiosk scans the member's code: a bearer call, no cookie needed
        checked = kiosk.post(f"{base}/api/checkins", headers={"Authorization": f"Bearer {demo.kiosk_token}"},
                             data={"session_id": demo.session_id, "credential": demo.qr_text,
                                   "nonce": uuid.uuid4().hex})
        assert checked.status == 200 and checked.json()["outcome"] == "accepted", checked.text()
        page.reload()
        assert page.url == base + "/me"
        # the header is one row: the brand and the menu button side by side, the menu folded away
        header = page.locator("header.top").bounding_box()
        brand = page.locator("header.top .brand").bounding_box()
        button = page.locator("header.top .menu-button").bounding_box()
        assert header and brand and button
        assert header["height"] < 60 and abs(brand["y"] - button["y"]) < 20, (header, brand, button)
        expect(page.locator("header.top nav")).to_be_hidden()
        # where the member is expected, and that they are checked in, with the time
        conference = page.locator(f"#conf-{demo.conference_id}")
        expect(conference.locator(".my-hall")).to_have_text(f"Điểm cầu dự: {demo.hall_name}")
        expect(conference.locator(".my-status").first).to_have_text(
            re.compile(r"^Đã điểm danh lúc \d\d/\d\d/\d{4} \d\d:\d\d · Có mặt trực tiếp$"))

        page.locator("header.top .menu-button").click()  # the compact menu opens, and leads on
        expect(page.locator("header.top nav")).to_be_visible()
        page.locator("header.top nav").get_by_role("link", name="Mã QR của tôi").click()
        page.wait_for_url(base + "/me/qr")
        qr = page.locator(".qr-code svg").bounding_box()
        assert qr and qr["width"] >= 250, qr
        assert qr["x"] >= 0 and qr["x"] + qr["width"] <= PHONE["width"], qr
        assert qr["y"] >= 0 and qr["y"] + qr["height"] <= PHONE["height"], qr  # whole, without scrolling
        assert page.evaluate("window.scrollY") == 0
        icon = page.locator("link[rel=icon]").get_attribute("href")
        served_icon = page.context.request.get(urljoin(base, icon or ""))
        assert icon and served_icon.headers["content-type"].startswith("image/svg+xml")

        # the feedback link of the conference preselects it; a refused form says why, on the form, and keeps all
        page.goto(base + "/me")
        conference.get_by_role("link", name="Gửi ý kiến, đề xuất").click()
        page.wait_for_load_state()
        select = page.locator("select[name=conference_id]")
        assert select.input_value() == str(demo.conference_id)
        page.get_by_label("Đề xuất").check()
        page.locator("textarea[name=content]").fill("   ")
        page.get_by_role("button", name="Gửi", exact=True).click()
        page.wait_for_load_state()
        error = page.locator("form.feedback-form #fb-error")
        expect(error).to_have_text("Vui lòng nhập nội dung ý kiến.")
        assert page.locator("textarea[name=content]").get_attribute("aria-invalid") == "true"
        assert select.input_value() == str(demo.conference_id) and page.get_by_label("Đề xuất").is_checked()


def test_the_presenter_goes_on_air_and_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = served(tmp_path, monkeypatch, HOINGHI_MEDIA_ADDRESSES="127.0.0.1", HOINGHI_RECORD_BROADCASTS="true",
                      HOINGHI_HLS_SEGMENT_SECONDS="1")
    sid = demo.session_id
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base, chromium(*FAKE_MEDIA) as browser:
        presenter = signed_in(browser, base, PRESENTER)
        # on the way: the conference list marks today's conference, its page filters its halls as one types
        presenter.goto(f"{base}/conferences")
        row = presenter.locator(f'tr[data-conference="{demo.conference_id}"]')
        expect(row.locator(".today-mark")).to_have_text("Hôm nay")
        expect(row.locator(".conf-dates")).to_have_text(re.compile(r"^\d\d/\d\d/\d{4}"))
        row.get_by_role("link").first.click()
        halls = presenter.locator("#halls tbody tr")
        total = halls.count()
        assert total > 10
        presenter.locator("#hall-filter-text").fill(demo.hall_name.split()[-1].lower())  # a part, any case
        shown = presenter.locator("#halls tbody tr:visible")
        expect(shown.first).to_contain_text(demo.hall_name)
        assert 0 < shown.count() < total
        expect(presenter.locator("#hall-filter-count")).to_have_text(f"Hiển thị {shown.count()} / {total} điểm cầu")
        presenter.locator("#hall-filter-status").select_option("online")  # no kiosk or screen is connected
        expect(shown).to_have_count(0)
        presenter.goto(f"{base}/sessions/{sid}/present")
        status, recording = presenter.locator("#media-status"), presenter.locator("#media-recording")
        # before going on air: the presenter's own words, no viewers' idle text, no red recording badge
        expect(status).to_have_text("Chưa lên sóng", timeout=10000)
        expect(recording).to_be_hidden()
        expect(presenter.locator("#media-message")).to_be_hidden()
        expect(presenter.get_by_role("button", name="Dừng phát")).to_be_hidden()

        viewer = signed_in(browser, base, MEMBER)
        viewer.goto(f"{base}/sessions/{sid}/watch")
        expect(viewer.locator("#media-status")).to_have_text("Chưa phát trực tiếp. Hình ảnh sẽ tự hiện khi bắt đầu.",
                                                             timeout=10000)
        expect(viewer.locator("#media-viewers")).to_have_text("")
        expect(viewer.locator("#media-recording")).to_be_hidden()

        # a hall's screen, nobody given the floor: no empty "this hall has the floor" picture
        screen = signed_in(browser, base, CLERK)
        screen.goto(f"{base}/halls/{demo.hall_id}/sessions/{sid}/screen")
        expect(screen.locator("#media-status")).to_have_text("Chưa phát trực tiếp. Hình ảnh sẽ tự hiện khi bắt đầu.",
                                                             timeout=10000)
        expect(screen.locator("#speaking")).to_be_hidden()

        presenter.get_by_role("button", name="Bắt đầu phát").click()
        expect(status).to_have_text("Đang phát trực tiếp", timeout=15000)
        expect(viewer.locator("#media-status")).to_have_text("Đang phát trực tiếp", timeout=15000)
        expect(presenter.locator("#media-viewers")).to_have_text(re.compile(r"^\d+ người xem"), timeout=10000)
        expect(recording).to_be_visible(timeout=10000)  # recording is on in this deployment, and now true
        expect(screen.locator("#speaking")).to_be_hidden()

        # "Dừng phát" asks first: declined, still on air; accepted, off
        asked: list[str] = []
        presenter.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        presenter.get_by_role("button", name="Dừng phát").click()
        assert asked and asked[0].startswith("Dừng phát trực tiếp?")
        expect(status).to_have_text("Đang phát trực tiếp")
        expect(presenter.get_by_role("button", name="Dừng phát")).to_be_visible()
        presenter.once("dialog", lambda dialog: dialog.accept())
        presenter.get_by_role("button", name="Dừng phát").click()
        expect(status).to_have_text("Chưa lên sóng", timeout=10000)
        expect(recording).to_be_hidden()
        expect(presenter.locator("#media-viewers")).to_have_text("")
        expect(presenter.get_by_role("button", name="Bắt đầu phát")).to_be_visible()
        expect(viewer.locator("#media-status")).to_have_text("Chưa phát trực tiếp. Hình ảnh sẽ tự hiện khi bắt đầu.",
                                                             timeout=10000)
        expect(viewer.locator("#media-viewers")).to_have_text("")
        expect(viewer.locator("#media-recording")).to_be_hidden()
