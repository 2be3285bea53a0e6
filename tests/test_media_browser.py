"""Headless Chromium with a fake camera presents; another Chromium context watches: its video plays over
WebRTC (the frame count rises), and over HLS (hls.js) when asked to. Loopback only, no STUN server."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium, hoinghi_server
from tests.world import PASSWORD, World, build_world
from web.bootstrap import build
from web.settings import Settings, load

pytestmark = pytest.mark.browser

SECRET = "media-browser-secret-key-0123456789abc"
FAKE_MEDIA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
              "--autoplay-policy=no-user-gesture-required")
SENT_SPY = """(() => {
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (text) { window.__sent.push(JSON.parse(text)); return send.call(this, text); };
})();"""
FRAMES = "() => document.getElementById('media-video').getVideoPlaybackQuality().totalVideoFrames"


async def prepare(settings: Settings) -> World:
    async with build(settings) as svc:
        return await build_world(svc)


def signed_in(browser: Browser, base: str, username: str) -> Page:
    page = browser.new_context().new_page()
    page.add_init_script(SENT_SPY)
    page.goto(base + "/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()
    return page


def frames_rise(page: Page, beyond: int, seconds: float) -> int:
    page.wait_for_function(f"() => ({FRAMES})() > {beyond}", timeout=seconds * 1000)
    count: int = page.evaluate(FRAMES)
    return count


def test_a_presenter_in_chromium_is_watched_in_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'media.db'}"
    settings = load({}, None, database_url=url, secret_key=SECRET, password_time_cost=1, password_memory_kib=8192)
    world = asyncio.run(prepare(settings))
    sid = world.session_id
    for name, value in {"DATABASE_URL": url, "HOINGHI_SECRET_KEY": SECRET, "HOINGHI_DATA_DIR": str(tmp_path),
                        "HOINGHI_MEDIA_ADDRESSES": "127.0.0.1", "HOINGHI_HLS_SEGMENT_SECONDS": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base, chromium(*FAKE_MEDIA) as browser:
        presenter = signed_in(browser, base, "org.p")
        presenter.goto(f"{base}/sessions/{sid}/present")
        presenter.get_by_role("button", name="Bắt đầu phát").click()
        expect(presenter.locator("#media-status")).to_have_text("Đang phát trực tiếp", timeout=15000)
        expect(presenter.locator("#media-connection")).to_have_text("Đã kết nối máy chủ")

        viewer = signed_in(browser, base, "member.a1")
        viewer.goto(f"{base}/sessions/{sid}/watch")
        expect(viewer.locator("#media-status")).to_have_text("Đang phát trực tiếp", timeout=10000)
        expect(viewer.locator("#media-mode")).to_have_text("Kết nối trực tiếp (WebRTC)")
        first = frames_rise(viewer, 10, 15)
        frames_rise(viewer, first + 30, 10)  # it keeps playing
        size = viewer.evaluate("[document.getElementById('media-video').videoWidth,"
                               " document.getElementById('media-video').videoHeight]")
        assert size[0] > 0 and size[1] > 0
        expect(presenter.locator("#media-viewers")).to_have_text(re.compile(r"^1 người xem"), timeout=5000)
        # the page counts as an online viewer: subscribed to the viewer topic, pinging every 15 s
        sent = viewer.evaluate("window.__sent.map(m => m.type + ':' + (m.topic || m.role || ''))")
        assert f"subscribe:session:{sid}/viewer" in sent and "rtc_offer:view" in sent and "hello:" in sent

        hls = signed_in(browser, base, "member.a1")  # the same stream as HLS, played by hls.js
        hls.goto(f"{base}/sessions/{sid}/watch?hls=1")
        expect(hls.locator("#media-mode")).to_have_text("Kết nối dự phòng (HLS, trễ vài giây)", timeout=10000)
        first = frames_rise(hls, 5, 30)
        frames_rise(hls, first + 15, 15)
        assert hls.evaluate("window.hoinghiPlayer().hls !== null")
        # under the participant's own viewer key: the segments it fetches count them watching
        assert re.search(r"/media/hls/\d+/[\w-]+/\d+\.[\w-]{22}/index\.m3u8$",
                         hls.evaluate("window.hoinghiPlayer().hls.url")), hls.evaluate("window.hoinghiPlayer().hls.url")

        presenter.once("dialog", lambda dialog: dialog.accept())  # "Dừng phát" asks first
        presenter.get_by_role("button", name="Dừng phát").click()
        expect(viewer.locator("#media-status")).to_have_text("Chưa phát trực tiếp. Hình ảnh sẽ tự hiện khi bắt đầu.",
                                                             timeout=10000)
        viewer.reload()  # the broadcast's recording is listed under the player
        expect(viewer.locator("#recording-list li a")).to_have_count(1, timeout=10000)
        assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d( · Đang ghi hình)?",
                            viewer.locator("#recording-list li a").inner_text())
