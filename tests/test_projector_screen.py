"""The hall screen's projector mode (issue 15): the hall's own figures and the province's, in counts only.

The province's figures come from the hub's `session:S/totals` topic (docs/PROTOCOL.md section 2): the
session's own unit, the conference's organiser, without names or rows, for whoever may read some hall of
the session; a hall screen still reads no other hall and no unit topic outside its scope.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from starlette.testclient import TestClient

from conference.text import thousands
from tests.browser import chromium, hoinghi_server
from tests.test_dashboard import scan
from tests.test_live import hello, kiosk_scan, refused, subscribed, ticket, until
from tests.test_projector import FITS, FULL_HD, demo_province
from tests.world import World

HALL_OF_TOKEN = """([token]) => new Promise((resolve) => {
  const ws = new WebSocket(location.origin.replace("http", "ws") + "/ws");
  ws.onopen = () => ws.send(JSON.stringify({type: "hello", v: 1, device_token: token}));
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "welcome") { ws.close(); resolve(m.user.hall_id); }
  };
})"""


def device_hello(ws: Any, token: str) -> None:
    ws.send_json({"type": "hello", "v": 1, "device_token": token})
    assert ws.receive_json()["type"] == "welcome"


def test_a_hall_screen_reads_the_province_totals_in_counts_only(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    totals = f"session:{world.session_id}/totals"
    with client.websocket_connect("/ws") as ws:
        device_hello(ws, world.kiosk_token)  # the device of hall C1 (a commune of district D1)
        assert refused(ws, f"session:{world.session_id}/hall:{world.halls['C2']}") == "forbidden"  # another hall
        assert refused(ws, f"session:{world.session_id}/unit:{world.units['P']}") == "forbidden"  # names, rows
        snapshot = subscribed(ws, totals)
        assert snapshot["type"] == "snapshot" and set(snapshot["data"]) == {"session", "unit", "totals"}
        assert snapshot["data"]["unit"]["id"] == world.units["P"]  # the conference's organiser: the province
        assert snapshot["data"]["totals"]["expected"] == 3 and snapshot["data"]["totals"]["in_person"] == 0
        kiosk_scan(client, world, "A1")
        seen: dict[str, Any] = {}
        deadline = time.monotonic() + 10
        while seen.get("totals", {}).get("in_person") != 1 and time.monotonic() < deadline:
            change = until(ws, "change")
            if change["topic"] == totals:
                assert set(change["data"]) <= {"unit", "totals"}, change  # never `recent`: no names
                seen.update(change["data"])
        assert seen["totals"]["in_person"] == 1 and seen["unit"]["in_person"] == 1
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "org.d1"))  # staff of a district: not the province's unit topic, its totals yes
        assert refused(ws, f"session:{world.session_id}/unit:{world.units['P']}") == "forbidden"
        assert subscribed(ws, totals)["type"] == "snapshot"
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "member.a1"))  # a participant has no attendance rights
        assert refused(ws, totals) == "forbidden"
        assert refused(ws, "session:999/totals") == "not_found"
        assert refused(ws, f"session:0{world.session_id}/totals") == "bad_topic"


def figure(page: Page, which: str, key: str) -> Any:
    return page.locator(f'#screen-figures [data-figures="{which}"] [data-fig="{key}"]')


@pytest.mark.browser
def test_the_hall_screen_in_projector_mode_shows_the_hall_and_the_province(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ready = demo_province(tmp_path, monkeypatch)
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base, chromium() as browser:
        page = browser.new_page(viewport=FULL_HD)
        page.goto(base + "/login")
        hall_id = page.evaluate(HALL_OF_TOKEN, [ready.kiosk_token])
        page.evaluate("([t]) => localStorage.setItem('hoinghi.device_token', t)", [ready.kiosk_token])
        screen = f"{base}/halls/{hall_id}/sessions/{ready.session_id}/screen"
        page.goto(screen)  # the ordinary screen: no figures, no socket for them
        expect(page.locator("#media-video")).to_be_visible()
        expect(page.locator("#screen-figures")).to_be_hidden()

        page.goto(screen + "?projector=1")  # the projector's bookmark
        expect(page.locator("html")).to_have_class(re.compile(r"\bprojector\b"))
        expect(figure(page, "hall", "name")).to_have_text(ready.kiosk_hall, timeout=10000)
        expect(figure(page, "province", "expected")).to_have_text(thousands(ready.expected), timeout=10000)
        expect(figure(page, "hall", "in_person")).to_have_text("0")
        expect(figure(page, "province", "in_person")).to_have_text("0")
        expect(figure(page, "province", "percent")).to_have_text("0,0%")
        assert figure(page, "hall", "expected").inner_text() not in ("—", "0")
        assert page.evaluate(FITS)  # no scroll bar at 1920x1080
        for which in ("hall", "province"):  # readable from the back of the hall, and on the screen
            box = figure(page, which, "percent").bounding_box()
            assert box and box["y"] + box["height"] <= FULL_HD["height"] and box["x"] + box["width"] <= FULL_HD["width"]
            px = figure(page, which, "in_person").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
            assert px >= 60, px
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert sum(int(c) for c in re.findall(r"\d+", background)[:3]) < 3 * 40, background  # dark
        video = page.locator("#media-video").bounding_box()
        assert video and video["width"] >= FULL_HD["width"] / 2  # the figures beside the video, not instead

        scan(base, ready.kiosk_token, ready.session_id, ready.texts[0])  # a check-in at this hall
        expect(figure(page, "hall", "in_person")).to_have_text("1", timeout=10000)
        expect(figure(page, "province", "in_person")).to_have_text("1", timeout=10000)
        assert page.evaluate(FITS)

        page.keyboard.press("Escape")  # and back to the ordinary screen
        expect(page.locator("html")).not_to_have_class(re.compile(r"\bprojector\b"))
        expect(page.locator("#screen-figures")).to_be_hidden()
        page.get_by_role("button", name="Máy chiếu").click()  # the toggle turns it on again
        expect(page.locator("#screen-figures")).to_be_visible()
        assert page.url.endswith("?projector=1")
