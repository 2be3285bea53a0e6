"""Every screen counts a hall the same way (attendance/counting.py): the hall page, the live dashboard's
snapshot over /ws, the session report's JSON and its XLSX export, read through the real app, on a session
where one hall has an exempt member who came, one reported a headcount, and someone is present online."""

from __future__ import annotations

import io
import re
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from starlette.testclient import TestClient

from conference.halls import Invitation
from conference.people import new_person
from tests.media_live import fetch_segment, media_settings, on_air, viewer_key
from tests.test_checkin_api import qr_text
from tests.test_live import hello, ticket, until
from tests.test_reports import call, rows_of, services_of, sheet
from tests.world import World, build_world, sign_in
from web.app import create_app
from web.i18n import translator
from web.settings import Settings

T = translator("vi")
KEYS = ("expected", "in_person", "online", "absent_excused", "absent_unexcused")  # the hall page shows these
PAGE_LABELS = dict(zip(KEYS, ("expected", "status_present_in_person", "status_present_online",
                              "status_absent_excused", "status_absent_unexcused"), strict=True))
REPORT_COLUMNS = {"expected": "rep_expected", "in_person": "rep_in_person", "online": "rep_online",
                  "absent_excused": "rep_absent_excused", "absent_unexcused": "rep_absent_unexcused",
                  "percent": "rep_percent", "source": "rep_source"}


def hold_session(client: TestClient, world: World) -> None:
    """Hall C1: A1 watches online, A2 is absent with a reason, A3 (exempt, miễn sinh hoạt) comes and is
    scanned at the kiosk. Hall C2 checks nobody in but reports a headcount."""
    svc = services_of(client)
    store = svc.conference.store
    call(client, store.apply_roster, [], [], {}, [(new_person("A3", "Phạm Văn Miễn", world.units["C1"], exempt=True),
                                                   "C1")], [],
         {"sha256": "m" * 64, "filename": "m", "user_id": None, "imported_at": datetime.now(UTC)})
    world.persons["A3"] = call(client, store.persons_by_code)["A3"].id
    call(client, store.invite, [Invitation(world.conference_id, world.persons["A3"], world.halls["C1"])])
    scanned = client.post("/api/checkins", headers={"Authorization": f"Bearer {world.kiosk_token}"},
                          json={"session_id": world.session_id, "credential": qr_text(client, world.persons["A3"]),
                                "nonce": uuid.uuid4().hex})
    assert scanned.json()["outcome"] == "accepted", scanned.text
    csrf = sign_in(client, "admin")
    absent = client.post("/api/absences", headers={"X-CSRF-Token": csrf}, json={
        "session_id": world.session_id, "hall_id": world.halls["C1"], "person_id": world.persons["A2"],
        "reason": "Đi công tác"})
    assert absent.status_code == 200, absent.text
    reported = client.post("/api/headcounts", headers={"X-CSRF-Token": csrf}, json={
        "session_id": world.session_id, "hall_id": world.halls["C2"], "expected": 1, "present": 1})
    assert reported.status_code == 200, reported.text
    watch_online(client, world)


def watch_online(client: TestClient, world: World) -> None:
    """A1 watches the livestream (on air, their player pulling HLS with their own key) past the online
    threshold: the hub records them present online."""
    viewer_ticket = ticket(client, "member.a1")
    key = viewer_key(client, "member.a1", world.session_id)
    svc = services_of(client)
    with on_air(client, world.session_id, hls=True) as state, client.websocket_connect("/ws") as viewer:
        hello(viewer, viewer_ticket)
        viewer.send_json({"type": "subscribe", "topic": f"session:{world.session_id}/viewer"})
        assert viewer.receive_json()["type"] == "subscribed"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert fetch_segment(client, state["hls"], key) == 200
            time.sleep(0.4)
            viewer.send_json({"type": "ping"})
            until(viewer, "pong")
            statuses = {c.person_id: c.status.value for c in call(client, svc.ledger.checkins, world.session_id)}
            if statuses.get(world.persons["A1"]) == "present_online":
                return
    raise AssertionError("A1 was never counted present online")


def page_figures(client: TestClient, world: World, hall: str) -> dict[str, Any]:
    page = client.get(f"/halls/{world.halls[hall]}/sessions/{world.session_id}")
    assert page.status_code == 200, page.text
    totals = " ".join(page.text.split('id="totals">', 1)[1].split("</p>", 1)[0].split())
    out: dict[str, Any] = {}
    for key, label in PAGE_LABELS.items():
        found = re.search(re.escape(T(label)) + r": ([\d.]+)", totals)
        assert found, (label, totals)
        out[key] = int(found.group(1).replace(".", ""))
    out["source"] = "reported" if T("rep_source_reported") in totals else "counted"
    return out


def dashboard_halls(client: TestClient, world: World) -> dict[int, dict[str, Any]]:
    """The halls of the province's live dashboard, from a fresh snapshot."""
    board_ticket = ticket(client, "org.p")
    with client.websocket_connect("/ws") as board:
        hello(board, board_ticket)
        board.send_json({"type": "subscribe", "topic": f"session:{world.session_id}/unit:{world.units['P']}"})
        data = until(board, "snapshot")["data"]
    return {int(h): row for h, row in data["halls"].items()} | {0: data["totals"]}


def report_rows(rows: list[dict[str, Any]], names: dict[int, str]) -> dict[int, dict[str, Any]]:
    by_name = {row[T("rep_hall")]: row for row in rows}
    out = {}
    for hall_id, name in names.items():
        row = by_name[name]
        out[hall_id] = {key: row[T(column)] for key, column in REPORT_COLUMNS.items()}
        out[hall_id]["source"] = "reported" if out[hall_id]["source"] == T("rep_source_reported") else "counted"
    return out


def test_the_hall_page_the_dashboard_and_the_report_count_each_hall_alike(app_settings: Settings,
                                                                         tmp_path: Path) -> None:
    # 1.2 s of watching makes one present online
    settings = replace(media_settings(app_settings, tmp_path), online_after_minutes=0.02)
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None
        world = client.portal.call(build_world, client.app.state.services)  # type: ignore[attr-defined]
        hold_session(client, world)
        c1, c2 = world.halls["C1"], world.halls["C2"]

        sign_in(client, "org.p")
        page = {c1: page_figures(client, world, "C1"), c2: page_figures(client, world, "C2")}
        live = dashboard_halls(client, world)
        names = {c1: live[c1]["name"], c2: live[c2]["name"]}
        body = client.get(f"/api/sessions/{world.session_id}/report").json()
        [halls_table] = [t for t in body["tables"] if t["key"] == "halls"]
        titles = [c["title"] for c in halls_table["columns"]]
        api = report_rows([dict(zip(titles, r["cells"], strict=True)) for r in halls_table["rows"]], names)
        book = load_workbook(io.BytesIO(client.get(f"/sessions/{world.session_id}/report.xlsx").content))
        xlsx = report_rows(rows_of(sheet(book, halls_table["title"])), names)

        # the rule, once: the exempt member who came is present but not expected, online counts as present,
        # the hall without check-ins shows its headcount
        assert {k: live[c1][k] for k in (*KEYS, "percent", "source")} == {
            "expected": 2, "in_person": 1, "online": 1, "absent_excused": 1, "absent_unexcused": 0,
            "percent": 100.0, "source": "counted"}
        assert {k: live[c2][k] for k in (*KEYS, "percent", "source")} == {
            "expected": 1, "in_person": 1, "online": 0, "absent_excused": 0, "absent_unexcused": 0,
            "percent": 100.0, "source": "reported"}
        for hall in (c1, c2):
            shown = {k: live[hall][k] for k in (*KEYS, "source")}
            assert page[hall] == shown, (hall, page[hall], shown)
            assert api[hall] == xlsx[hall] == {k: live[hall][k] for k in REPORT_COLUMNS}, (hall, api[hall], xlsx[hall])
        summary = body["summary"]
        assert {k: summary[k] for k in (*KEYS, "percent", "reported_present")} == \
            {k: live[0][k] for k in (*KEYS, "percent", "reported_present")}
