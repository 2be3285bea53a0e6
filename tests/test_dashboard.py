"""The organiser's live dashboard: who may open it, and, in a real Chromium against a real server,
that its figures follow check-ins live without a reload."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import update
from starlette.testclient import TestClient

from conference import tables
from conference.accounts import Role, User
from conference.text import thousands
from tests.browser import chromium, hoinghi_server
from tests.world import World, sign_in
from web.bootstrap import build
from web.demo import province as demo_data
from web.demo import seeding
from web.settings import Settings, load

# -- HTTP: access ---------------------------------------------------------------------------------------


def config_of(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="dashboard-config">(.*?)</script>', html, re.S)
    assert found, "the page carries its configuration"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_only_staff_with_attendance_rights_in_scope_open_the_dashboard(
        world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    url = f"/sessions/{world.session_id}/dashboard"

    anonymous = client.get(url, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == f"/login?next={url}"

    sign_in(client, "org.p")
    page = client.get(url)
    assert page.status_code == 200
    assert "Theo dõi điểm danh trực tiếp" in page.text and "Đảng bộ tỉnh" in page.text
    assert "/static/dashboard.js" in page.text and "/static/vendor/chart.umd.min.js" in page.text
    assert "cdn" not in page.text.lower()
    config = config_of(page.text)
    assert config["unit_id"] == world.units["P"] and config["session_id"] == world.session_id
    labels = config["labels"]
    assert isinstance(labels, dict) and labels["dash_in_person"] == "Có mặt trực tiếp"
    assert labels["methods"]["face"] == "Khuôn mặt" and labels["dash_lost"] == "Mất kết nối, đang thử lại"
    drilled = client.get(url, params={"unit": world.units["C1"]})
    assert drilled.status_code == 200
    assert [u["name"] for u in config_of(drilled.text)["path"]] == [
        "Đảng bộ tỉnh", "Đảng bộ huyện Một", "Chi bộ thôn Một"]
    assert client.get(url, params={"unit": "abc"}).status_code == 422
    assert client.get(url, params={"unit": 999_999}).status_code == 404
    assert client.get("/sessions/999999/dashboard").status_code == 404
    conference_page = client.get(f"/conferences/{world.conference_id}").text
    assert f'href="/sessions/{world.session_id}/dashboard"' in conference_page
    assert client.get("/static/vendor/chart.umd.min.js").status_code == 200
    assert client.get("/static/dashboard.js").status_code == 200

    sign_in(client, "org.d1")
    assert client.get(url, params={"unit": world.units["P"]}).status_code == 403
    assert client.get(url, params={"unit": world.units["C2"]}).status_code == 403  # the other district
    own = client.get(url)  # opens on the district, the part of the conference the user may watch
    assert own.status_code == 200 and config_of(own.text)["unit_id"] == world.units["D1"]
    assert [u["name"] for u in config_of(own.text)["path"]] == ["Đảng bộ huyện Một"]

    sign_in(client, "clerk.c1")
    assert config_of(client.get(url).text)["unit_id"] == world.units["C1"]

    sign_in(client, "member.a1")
    assert client.get(url).status_code == 403
    assert "/dashboard" not in client.get(f"/conferences/{world.conference_id}").text


def test_the_english_dashboard_is_in_english(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    client.get("/lang/en")
    page = client.get(f"/sessions/{world.session_id}/dashboard")
    assert "Live attendance" in page.text and config_of(page.text)["lang"] == "en"


# -- a real browser against a real server ------------------------------------------------------------------

SECRET = "dashboard-secret-key-0123456789abcdef"
ORGANISER = "bantochuc.tinh"
HOSTILE = '<img src=x onerror="window.__owned=1">Lê <b>Văn</b> Thử'


@dataclass
class Prepared:
    session_id: int
    kiosk_token: str
    kiosk_hall: str
    texts: list[str]  # QR credentials of people expected at the kiosk's hall
    names: list[str]
    expected: int
    halls: int
    offline: int


async def prepare(settings: Settings) -> Prepared:
    """The 3,000-member demo province, a session whose check-in is open now, a kiosk, some halls offline."""
    async with build(settings) as svc:
        now = datetime.now(UTC)
        await seeding.seed(svc.engine, svc.conference.passwords, now, members=3000)
        store = svc.conference.store
        admin = User(0, "system", "system", Role.ADMIN, None)
        [conf] = await store.list_conferences()
        start = now + timedelta(minutes=10)
        session = await svc.conference.add_session(admin, conf.id, "Phiên kiểm thử trực tiếp", start,
                                                   start + timedelta(hours=2))
        invited = await store.invitations_of(conf.id)
        halls = await store.halls_of(conf.id)
        by_hall = {h.id: [i.person_id for i in invited if i.hall_id == h.id] for h in halls}
        kiosk_hall = max(halls, key=lambda h: len(by_hall[h.id]))
        people = by_hall[kiosk_hall.id][:7]
        async with svc.engine.begin() as c:  # markup in a name must show as text, never as markup
            await c.execute(update(tables.persons).where(tables.persons.c.id == people[1]).values(full_name=HOSTILE))
        persons = await store.persons_by_ids([i.person_id for i in invited])
        creds = await svc.credentials.current(people)
        code, _ = await svc.devices.issue_enrolment_code(kiosk_hall.id, None)
        _, token = await svc.devices.enrol(code, "Kiosk kiểm thử")
        offline = [h for h in halls if h.id != kiosk_hall.id][3:9]
        for h in offline:  # they sent heartbeats, then fell silent ten minutes ago
            await store.set_hall_seen(h.id, now - timedelta(minutes=10))
        return Prepared(session.id, token, kiosk_hall.name, [await svc.credentials.text(creds[p]) for p in people],
                        [persons[p].full_name for p in people],
                        sum(1 for i in invited if not persons[i.person_id].exempt), len(halls), len(offline))


def scan(base: str, token: str, session_id: int, text: str) -> None:
    request = urllib.request.Request(
        f"{base}/api/checkins", method="POST",
        data=json.dumps({"session_id": session_id, "credential": text, "nonce": uuid.uuid4().hex}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["outcome"] == "accepted"


def total_locator(page: Page, key: str) -> Locator:
    return page.locator(f'.tiles [data-total="{key}"]')


def total(page: Page, key: str) -> str:
    return total_locator(page, key).inner_text()


SOCKET_SPY = """(() => {
  // Records every socket the dashboard opens, the frame types it receives and what it sends.
  window.__sockets = []; window.__received = []; window.__sent = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      const n = window.__sockets.push(this);
      this.addEventListener("message", (e) => window.__received.push([n, JSON.parse(e.data).type]));
    }
    send(text) { window.__sent.push(JSON.parse(text)); super.send(text); }
  };
})();"""

FAKE_GAP = """() => {
  const cfg = JSON.parse(document.getElementById("dashboard-config").textContent);
  const topic = `session:${cfg.session_id}/unit:${cfg.unit_id}`;
  const ws = window.__sockets[window.__sockets.length - 1];
  ws.dispatchEvent(new MessageEvent("message", {data: JSON.stringify(
    {type: "change", topic, seq: 1000000, data: {totals: {expected: 1, in_person: 999}}})}));
}"""

KIOSK_SOCKET = """([token]) => new Promise((resolve) => {
  const ws = new WebSocket(location.origin.replace("http", "ws") + "/ws");
  ws.onopen = () => ws.send(JSON.stringify({type: "hello", v: 1, device_token: token}));
  ws.onmessage = (e) => { if (JSON.parse(e.data).type === "welcome") { ws.send('{"type":"ping"}'); resolve(true); } };
  setInterval(() => ws.readyState === 1 && ws.send('{"type":"ping"}'), 5000);
})"""


@pytest.mark.browser
def test_the_dashboard_follows_check_ins_live_in_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    settings = load({}, None, database_url=url, secret_key=SECRET, password_time_cost=1, password_memory_kib=8192)
    ready = asyncio.run(prepare(settings))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HOINGHI_SECRET_KEY", SECRET)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base, chromium() as browser:
        kiosk = browser.new_page()  # the kiosk hall's screen: its heartbeats mark the hall online
        kiosk.goto(base + "/login")
        assert kiosk.evaluate(KIOSK_SOCKET, [ready.kiosk_token])

        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.add_init_script(SOCKET_SPY)
        page.goto(base + "/login")
        page.get_by_label("Tên đăng nhập").fill(ORGANISER)
        page.get_by_label("Mật khẩu").fill(demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(base + "/conferences")
        page.get_by_role("link", name=demo_data.CONFERENCE_TITLE).click()
        page.get_by_role("row", name=re.compile("Phiên kiểm thử trực tiếp")).get_by_role(
            "link", name="Theo dõi trực tiếp").click()
        page.wait_for_url(re.compile(rf"/sessions/{ready.session_id}/dashboard$"))
        page.evaluate("window.__noReload = true")

        status = page.locator("#live-status")
        expect(status).to_have_text("Trực tiếp", timeout=5000)
        expect(total_locator(page, "expected")).to_have_text(thousands(ready.expected), timeout=5000)
        assert "." in total(page, "expected")  # 2.9xx: Vietnamese thousands
        assert total(page, "in_person") == "0" and total(page, "percent") == "0,0%"
        rows = page.locator("#halls tbody tr")
        expect(rows).to_have_count(ready.halls)
        expect(page.locator("#halls tbody tr.offline")).to_have_count(ready.offline, timeout=5000)
        expect(page.locator("#halls tbody tr.offline .badge.flag").first).to_have_text("Mất kết nối")
        expect(total_locator(page, "halls_online")).to_have_text(f"1/{ready.halls}", timeout=6000)
        kiosk_row = page.locator("#halls tbody tr", has=page.get_by_role("link", name=ready.kiosk_hall, exact=True))
        expect(kiosk_row.locator(".badge.online")).to_have_text("Trực tuyến")

        scan(base, ready.kiosk_token, ready.session_id, ready.texts[0])
        expect(total_locator(page, "in_person")).to_have_text("1", timeout=4000)
        expect(kiosk_row.locator("td").nth(4)).to_have_text("1", timeout=4000)
        expect(page.locator("#recent li").first.locator(".name")).to_have_text(ready.names[0], timeout=4000)
        expect(page.locator("#recent li").first.locator(".method")).to_have_text("QR")
        assert re.fullmatch(r"\d\d:\d\d", page.locator("#recent li time").first.inner_text())
        expect(page.locator("#rate-chart")).to_have_attribute("data-checkins", "1", timeout=4000)
        assert int(page.locator("#rate-chart").get_attribute("data-minutes") or 0) >= 1

        for text in ready.texts[1:-1]:
            scan(base, ready.kiosk_token, ready.session_id, text)
        n = len(ready.texts) - 1
        expect(total_locator(page, "in_person")).to_have_text(str(n), timeout=4000)
        expect(kiosk_row.locator("td").nth(4)).to_have_text(str(n), timeout=4000)
        expect(page.locator("#recent li")).to_have_count(n)
        expect(page.locator("#recent li").first.locator(".name")).to_have_text(ready.names[n - 1])
        expect(page.locator("#rate-chart")).to_have_attribute("data-checkins", str(n), timeout=4000)
        expect(page.locator("#recent li .name", has_text="Lê <b>Văn</b> Thử")).to_have_text(HOSTILE)
        assert page.locator("#recent img, #recent b").count() == 0 and not page.evaluate("window.__owned")
        assert page.evaluate("window.Chart !== undefined && Chart.getChart('rate-chart') !== undefined")

        # a gap in the sequence: the page ignores the frame and re-subscribes from the last seq it applied
        page.evaluate(FAKE_GAP)
        page.wait_for_function("() => window.__sent.filter(m => m.type === 'subscribe').length >= 2")
        resume = page.evaluate("window.__sent.filter(m => m.type === 'subscribe').pop()")
        assert isinstance(resume["since"], int) and resume["since"] > 0 and resume["epoch"]
        assert total(page, "in_person") == str(n)

        # the socket drops: the page says so, reconnects on its own and resumes with since + epoch
        page.evaluate("window.__sockets[window.__sockets.length - 1].close()")
        expect(status).to_have_text("Mất kết nối, đang thử lại")
        scan(base, ready.kiosk_token, ready.session_id, ready.texts[-1])  # while it is away
        expect(status).to_have_text("Trực tiếp", timeout=6000)
        expect(total_locator(page, "in_person")).to_have_text(str(n + 1), timeout=4000)
        n += 1
        sockets = page.evaluate("window.__sockets.length")
        assert sockets == 2
        again = page.evaluate("window.__sent.filter(m => m.type === 'subscribe').pop()")
        assert again["since"] >= resume["since"] and again["epoch"] == resume["epoch"]
        assert "snapshot" not in [kind for socket, kind in page.evaluate("window.__received") if socket == 2]

        # sort by a column: the hall with the check-ins comes first
        page.locator('#halls th[data-sort="in_person"] button').click()
        expect(rows.first.locator(".hall-name a")).to_have_text(ready.kiosk_hall)
        expect(page.locator('#halls th[data-sort="in_person"]')).to_have_attribute("aria-sort", "descending")
        # filters: search without diacritics, by connection, by level
        page.locator("#hall-search").fill("dong ha")
        assert rows.count() >= 1 and all("Đông Hà" in t for t in rows.locator(".hall-name a").all_inner_texts())
        page.locator("#hall-search").fill("")
        page.locator("#hall-connection").select_option("offline")
        expect(rows).to_have_count(ready.offline)
        page.locator("#hall-connection").select_option("")
        page.locator("#hall-level").select_option(label="Cấp tỉnh")
        expect(rows).to_have_count(1)
        page.locator("#hall-level").select_option("")
        expect(rows).to_have_count(ready.halls)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path="/tmp/dashboard.png")
        page.locator("#halls-section").scroll_into_view_if_needed()
        page.evaluate("document.getElementById('halls-section').scrollIntoView()")
        page.screenshot(path="/tmp/dashboard-halls.png")

        # drill down the unit tree without a reload, and back up by the breadcrumb
        first_unit = page.locator("#units tbody tr a.drill").first
        child = first_unit.inner_text()
        first_unit.click()
        expect(page.locator("#unit-crumbs [aria-current=page]")).to_have_text(child)
        page.wait_for_url(re.compile(r"\?unit=\d+$"))
        expect(status).to_have_text("Trực tiếp")
        page.wait_for_function("() => document.querySelectorAll('#halls tbody tr').length > 0")
        assert 0 < rows.count() < ready.halls
        expect(page.locator("#rate-chart")).to_have_attribute("data-checkins", str(n), timeout=4000)
        expect(page.locator("#recent li")).to_have_count(n)
        page.wait_for_timeout(400)  # the chart's animation
        page.screenshot(path="/tmp/dashboard-unit.png")
        page.locator("#unit-crumbs a").first.click()
        expect(rows).to_have_count(ready.halls, timeout=4000)
        expect(total_locator(page, "in_person")).to_have_text(str(n))
        assert page.evaluate("window.__noReload === true"), "the page was reloaded"
