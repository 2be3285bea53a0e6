"""The pages' shared live-hub client (web/static/live.js) in a real Chromium against a real hub that closes
their sockets: when the hub shuts down a dashboard backs off (each wait at least twice the last, less
jitter), comes back when the hub does and resumes its topic from the last `seq` and `epoch` (a new hub
answers with a snapshot); a kiosk whose device was revoked meanwhile is refused (4001) and asks to be
enrolled again instead of retrying; a malformed message (4002) stops the client for good."""

from __future__ import annotations

import asyncio
import itertools
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import chromium
from tests.served import SECRET, Hub
from tests.world import PASSWORD, World, build_world
from web.bootstrap import build
from web.settings import Settings, load

pytestmark = pytest.mark.browser

SPY = """(() => {
  // Every socket a page opens: how it closed, what it sent and received; and when it asked for a ticket.
  window.__sockets = []; window.__live = []; window.__tickets = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      const record = {sent: [], received: [], closed: null};
      window.__sockets.push(record);
      window.__live.push(this);
      this.addEventListener("message", (e) => {
        if (typeof e.data !== "string") return;
        const m = JSON.parse(e.data);
        record.received.push([m.type, m.epoch || null]);
      });
      this.addEventListener("close", (e) => { record.closed = e.code; });
      this.__record = record;
    }
    send(data) { if (typeof data === "string") this.__record.sent.push(JSON.parse(data)); super.send(data); }
  };
  const fetchNative = window.fetch;
  window.fetch = function (url, ...rest) {
    if (String(url).includes("/api/live/ticket")) window.__tickets.push(performance.now());
    return fetchNative.call(this, url, ...rest);
  };
})();"""


async def prepare(settings: Settings) -> World:
    async with build(settings) as svc:
        return await build_world(svc)


async def revoke(settings: Settings, device_id: int) -> None:
    async with build(settings) as svc:
        await svc.devices.revoke(device_id)


def sockets(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("window.__sockets")
    return found


def subscribes(page: Page) -> list[dict[str, Any]]:
    return [m for s in sockets(page) for m in s["sent"] if m["type"] == "subscribe"]


def test_pages_come_back_resume_and_stop_on_the_close_codes_that_say_so(tmp_path: Path) -> None:
    settings = load({}, None, database_url=f"sqlite:///{tmp_path / 'live.db'}", secret_key=SECRET,
                    password_time_cost=1, password_memory_kib=8192)
    world = asyncio.run(prepare(settings))
    hub = Hub(settings, tmp_path / "server.log").start()
    try:
        with chromium() as browser:
            board = browser.new_page()
            board.add_init_script(SPY)
            board.goto(hub.base + f"/login?next=/sessions/{world.session_id}/dashboard")
            board.get_by_label("Tên đăng nhập").fill("org.p")
            board.get_by_label("Mật khẩu").fill(PASSWORD)
            board.get_by_role("button", name="Đăng nhập").click()
            board.wait_for_url(re.compile(rf"/sessions/{world.session_id}/dashboard$"))
            status = board.locator("#live-status")
            expect(status).to_have_text("Trực tiếp", timeout=10_000)
            expect(board.locator('.tiles [data-total="expected"]')).to_have_text("3")
            board.wait_for_function("() => window.__sockets[0].received.some(([type]) => type === 'snapshot')")
            [first_epoch] = [e for t, e in sockets(board)[0]["received"] if t == "snapshot"]

            kiosk = browser.new_page()
            kiosk.add_init_script(SPY)
            kiosk.goto(hub.base + "/kiosk")
            kiosk.evaluate("""([token, id, hall]) => localStorage.setItem('hoinghi.kiosk.device',
                              JSON.stringify({token: token, device_id: id, hall_id: hall}))""",
                           [world.kiosk_token, world.kiosk_device_id, world.halls["C1"]])
            kiosk.reload()
            kiosk.locator(f'#session-list button[data-session="{world.session_id}"]').click()
            kiosk.click("#start")
            expect(kiosk.locator("#net")).to_have_text("Trực tuyến", timeout=10_000)

            # the hub shuts down and closes every socket; the pages say so and back off
            with ThreadPoolExecutor(1) as aside:  # Playwright's loop runs in this thread
                aside.submit(asyncio.run, revoke(settings, world.kiosk_device_id)).result()
            hub.stop()
            expect(status).to_have_text("Mất kết nối, đang thử lại", timeout=5000)
            # the server closed it: going away (1001), or 1012 when uvicorn closes its sockets before the hub stops
            assert sockets(board)[0]["closed"] in (1001, 1012)
            expect(kiosk.locator("#net")).to_contain_text("Ngoại tuyến", timeout=5000)
            board.wait_for_timeout(3500)  # two failed attempts at least (1 s, then 2 s, ±25 %)
            hub = Hub(settings, tmp_path / "server.log", port=hub.port).start()

            # the dashboard comes back and resumes its topic; the new hub (another epoch) sends a snapshot
            expect(status).to_have_text("Trực tiếp", timeout=30_000)  # the next attempt: 20 s away at most
            assert len(sockets(board)) == 2
            resumed = subscribes(board)[-1]
            assert isinstance(resumed["since"], int) and resumed["epoch"] == first_epoch
            board.wait_for_function("() => window.__sockets[1].received.some(([type]) => type === 'snapshot')")
            [second_epoch] = [e for t, e in sockets(board)[1]["received"] if t == "snapshot"]
            assert second_epoch and second_epoch != first_epoch
            expect(board.locator('.tiles [data-total="expected"]')).to_have_text("3")
            tickets: list[float] = board.evaluate("window.__tickets")
            waits = [b - a for a, b in itertools.pairwise(tickets)]
            assert len(waits) >= 3, waits
            for n, wait in enumerate(waits[1:]):  # after the first failed attempt, 2^n s less 25 % jitter
                assert wait >= 0.75 * 1000 * 2 ** (n + 1) - 50, waits

            # the revoked kiosk is refused at hello (4001): it asks for a new enrolment and stops trying
            expect(kiosk.locator("#enrol")).to_be_visible(timeout=15_000)
            expect(kiosk.locator("#enrol-error")).to_have_text(re.compile("thu hồi"))
            refused = len(sockets(kiosk))
            assert sockets(kiosk)[-1]["closed"] == 4001
            kiosk.wait_for_timeout(2000)  # longer than the first back-off (1 s, +25 % at most)
            assert len(sockets(kiosk)) == refused

            # a malformed message (an unknown type) closes with 4002: the page says to reload, and stays put
            board.evaluate("window.__live[window.__live.length - 1].send('{\"type\": \"nonsense\"}')")
            expect(status).to_have_text("Mất kết nối. Vui lòng tải lại trang.", timeout=5000)
            assert sockets(board)[-1]["closed"] == 4002
            board.wait_for_timeout(2000)
            assert len(sockets(board)) == 2
    finally:
        hub.stop()
