"""Reports through the real app: every XLSX opened with openpyxl and checked against the ledger, every PDF
rendered by poppler and its Vietnamese text read back, the unit tree as it stood on the session's day,
injected names shown as text everywhere, and who saw or exported personal data in the audit log."""

from __future__ import annotations

import io
import subprocess
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import update
from starlette.testclient import TestClient

from attendance.checkins import CheckIn, Method, Status
from conference import tables as t
from conference.halls import Channel, HallRole, Invitation
from conference.people import new_person
from conference.units import UnitType, new_unit
from tests.test_checkin_api import qr_text
from tests.world import World, sign_in
from web.bootstrap import Services
from web.render.files import sheet_name

SCRIPT_NAME = "<script>alert(1)</script>"
FORMULA_NAME = '=HYPERLINK("http://x")'
HALL_NAME = "<i>Điểm cầu huyện Một</i>"


def services_of(client: TestClient) -> Services:
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    return svc


def call(client: TestClient, fn: Any, *args: Any) -> Any:
    assert client.portal is not None
    return client.portal.call(fn, *args)


def hold_session(client: TestClient, world: World) -> None:
    """Two more (hostile) names invited to C1's hall, a hall for D1; then A1 scans twice and a forged code once,
    and the administrator marks B1 absent with a reason."""
    svc = services_of(client)
    store = svc.conference.store
    call(client, store.apply_roster, [], [], {}, [(new_person("J1", SCRIPT_NAME, world.units["C1"]), "C1"),
                                                  (new_person("J2", FORMULA_NAME, world.units["C1"]), "C1")], [],
         {"sha256": "j" * 64, "filename": "j", "user_id": None, "imported_at": datetime.now(UTC)})
    people = call(client, store.persons_by_code)
    call(client, store.invite, [Invitation(world.conference_id, people[c].id, world.halls["C1"]) for c in ("J1", "J2")])
    org = call(client, store.user_by_name, "org.p")
    world.halls["D1"] = call(client, svc.conference.add_hall, org, world.conference_id, world.units["D1"], HALL_NAME,
                             HallRole.PARTICIPATING, Channel.TWO_WAY).id
    kiosk = {"Authorization": f"Bearer {world.kiosk_token}"}
    text = qr_text(client, world.persons["A1"])
    for credential in (text, text, "HN1:GIA-MAO"):
        client.post("/api/checkins", headers=kiosk, json={"session_id": world.session_id, "credential": credential,
                                                          "nonce": uuid.uuid4().hex})
    csrf = sign_in(client, "admin")
    absent = client.post("/api/absences", headers={"X-CSRF-Token": csrf}, json={
        "session_id": world.session_id, "hall_id": world.halls["C2"], "person_id": world.persons["B1"],
        "reason": "Đi công tác"})
    assert absent.status_code == 200, absent.text


def sheet(book: Any, title: str) -> Worksheet:
    found = [ws for ws in book.worksheets if ws.cell(1, 1).value == title]
    assert found, [ws.cell(1, 1).value for ws in book.worksheets]
    ws: Worksheet = found[0]
    return ws


def rows_of(ws: Worksheet) -> list[dict[str, Any]]:
    """The table of a sheet: the header row is the first whose first cell is bold after the title."""
    header = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).font.bold and ws.cell(r, 2).value)
    titles = [ws.cell(header, c).value for c in range(1, ws.max_column + 1)]
    out = []
    for r in range(header + 1, ws.max_row + 1):
        if ws.cell(r, 1).value is None:
            break
        out.append({title: ws.cell(r, c).value for c, title in enumerate(titles, start=1) if title})
    return out


def pdf_text(content: bytes, tmp_path: Path, name: str) -> str:
    """Render every page to PNG (as a printer would), then read the PDF's text back."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(content)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / name)], check=True)
    pages = sorted(tmp_path.glob(f"{name}-*.png"))
    assert pages and all(p.stat().st_size > 1000 for p in pages)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(out.stdout.split())


def ledger_figures(client: TestClient, world: World) -> dict[int, Counter[str]]:
    """What the ledger holds, hall by hall: the statuses of each hall's invitees, and how many are expected."""
    svc = services_of(client)
    checkins = {c.person_id: c.status.value for c in call(client, svc.ledger.checkins, world.session_id)}
    figures: dict[int, Counter[str]] = {}
    for person, hall, _ in call(client, svc.conference.store.invitees_of, world.conference_id):
        counts = figures.setdefault(hall, Counter())
        counts["expected"] += 0 if person.exempt else 1
        counts[checkins.get(person.id, "pending")] += 1
    return figures


def test_session_report_xlsx_and_pdf_match_the_ledger(world_client: tuple[TestClient, World], tmp_path: Path) -> None:
    client, world = world_client
    hold_session(client, world)
    sign_in(client, "org.p")
    xlsx = client.get(f"/sessions/{world.session_id}/report.xlsx", params={"pending": 1})
    assert xlsx.status_code == 200 and xlsx.headers["cache-control"] == "no-store, private"
    disposition = f'attachment; filename="bao-cao-diem-danh-phien-{world.session_id}.xlsx"'
    assert xlsx.headers["content-disposition"] == disposition
    book = load_workbook(io.BytesIO(xlsx.content))

    ledger = ledger_figures(client, world)
    halls = {r["Điểm cầu"]: r for r in rows_of(sheet(book, "2. Kết quả điểm danh theo điểm cầu"))}
    for name, hall in (("Chi bộ thôn Một", world.halls["C1"]), ("Chi bộ thôn Hai", world.halls["C2"])):
        row, counts = halls[name], ledger[hall]
        assert (row["Triệu tập"], row["Có mặt trực tiếp"], row["Vắng có lý do"], row["Chưa điểm danh"]) == (
            counts["expected"], counts["present_in_person"], counts["absent_excused"], counts["pending"])
        assert row["Tỷ lệ có mặt (%)"] == round(100 * counts["present_in_person"] / counts["expected"], 1)
        assert row["Nguồn số liệu"] == "Điểm danh"
    assert halls["Chi bộ thôn Một"]["Triệu tập"] == 4 and halls["Chi bộ thôn Một"]["Có mặt trực tiếp"] == 1
    assert halls[HALL_NAME]["Triệu tập"] == 0 and halls[HALL_NAME]["Hình thức"] == "Hai chiều"
    total = halls["Tổng cộng (3 điểm cầu)"]
    assert (total["Triệu tập"], total["Có mặt trực tiếp"], total["Vắng có lý do"], total["Chưa điểm danh"]) == (
        5, 1, 1, 3)

    units = {r["Tổ chức đảng"]: r for r in rows_of(sheet(book, "3. Tổng hợp theo tổ chức đảng"))}
    assert list(units) == ["Đảng bộ tỉnh", "Đảng bộ huyện Hai", "Chi bộ thôn Hai", "Đảng bộ huyện Một",
                           "Chi bộ thôn Một"]
    assert (units["Đảng bộ tỉnh"]["Triệu tập"], units["Đảng bộ tỉnh"]["Có mặt trực tiếp"],
            units["Đảng bộ tỉnh"]["Tỷ lệ có mặt (%)"]) == (5, 1, 20.0)
    assert units["Đảng bộ huyện Hai"]["Vắng có lý do"] == 1

    absentees_ws = sheet(book, "4. Danh sách vắng mặt theo chi bộ")
    absentees = rows_of(absentees_ws)
    assert [(r["Chi bộ"], r["Họ và tên"], r["Tình trạng"], r["Lý do"]) for r in absentees] == [
        ("Chi bộ thôn Hai", "Lê Văn Cường", "Vắng có lý do", "Đi công tác"),
        ("Chi bộ thôn Một", SCRIPT_NAME, "Chưa điểm danh", None),
        ("Chi bộ thôn Một", FORMULA_NAME, "Chưa điểm danh", None),
        ("Chi bộ thôn Một", "Trần Thị Bình", "Chưa điểm danh", None)]
    formula_cell = next(c for row in absentees_ws.iter_rows() for c in row if c.value == FORMULA_NAME)
    assert formula_cell.data_type == "s" and formula_cell.quotePrefix  # text, never a formula

    methods = {r["Hình thức"]: r for r in rows_of(sheet(book, "5. Hình thức điểm danh"))}
    assert (methods["Quét mã QR"]["Lượt điểm danh"], methods["Quét mã QR"]["Lượt quét hợp lệ"],
            methods["Quét mã QR"]["Lượt quét trùng"], methods["Quét mã QR"]["Lượt quét bị từ chối"]) == (1, 1, 1, 1)
    refusals = rows_of(sheet(book, "5b. Lượt quét bị từ chối theo lý do"))
    assert refusals[-1]["Lượt quét"] == 1
    overview = {r["Cấp"]: r for r in rows_of(sheet(book, "1. Điểm cầu theo cấp và hình thức kết nối"))}
    assert overview["Cấp cơ sở"]["Trực tiếp"] == 2 and overview["Cấp huyện và tương đương"]["Hai chiều"] == 1

    pdf = client.get(f"/sessions/{world.session_id}/report.pdf", params={"pending": 1})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content, tmp_path, "report")
    for expected in ("Báo cáo điểm danh", "Hội nghị học tập Chuyên đề năm 2026", "2. Kết quả điểm danh theo điểm cầu",
                     "Chi bộ thôn Một", "Đảng bộ huyện Hai", "Trần Thị Bình", "Lê Văn Cường", "Đi công tác",
                     "Chưa điểm danh", "Vắng có lý do", SCRIPT_NAME, FORMULA_NAME, HALL_NAME, "Quét mã QR",
                     "20,0%", "Trang 1/"):
        assert expected in text, expected

    # the page shows the same tables, names as text
    html = client.get(f"/sessions/{world.session_id}/report", params={"pending": 1}).text
    assert SCRIPT_NAME not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HALL_NAME not in html and "&lt;i&gt;Điểm cầu huyện Một&lt;/i&gt;" in html
    assert "=HYPERLINK(&#34;http://x&#34;)" in html and 'id="sum-percent">20,0%' in html

    # viewing the names is logged, exporting them too
    entries = call(client, services_of(client).conference.store.audit_entries, 20)
    kinds = [e.action.value for e in entries if e.subject == f"session:{world.session_id}"]
    assert kinds == ["view_people", "export_people", "export_people"]


def test_by_default_a_report_counts_those_not_checked_in_and_says_it_is_provisional(
        world_client: tuple[TestClient, World], tmp_path: Path) -> None:
    """A province's report listed everyone not yet checked in (2,335 pages): now only on request. The session
    has not ended yet (it starts in an hour), so every form of the report says its figures are provisional."""
    client, world = world_client
    hold_session(client, world)
    sign_in(client, "org.p")
    book = load_workbook(io.BytesIO(client.get(f"/sessions/{world.session_id}/report.xlsx").content))
    ws = sheet(book, "4. Danh sách vắng mặt theo chi bộ")
    assert [(r["Họ và tên"], r["Tình trạng"]) for r in rows_of(ws)] == [("Lê Văn Cường", "Vắng có lý do")]
    cells = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "3 đại biểu chưa điểm danh không được liệt kê (chọn \"Liệt kê cả người chưa điểm danh\" để xem)." in cells
    assert "Báo cáo điểm danh (Tạm tính)" in cells and any(c.startswith("Số liệu tạm tính: phiên chưa kết thúc")
                                                           for c in cells)
    names = [w.title for w in book.worksheets]
    assert all(len(n) <= 31 for n in names) and len({n.lower() for n in names}) == len(names)
    assert "4. Danh sách vắng mặt theo chi" in names  # cut between words, not "…theo c"
    text = pdf_text(client.get(f"/sessions/{world.session_id}/report.pdf").content, tmp_path, "default")
    assert "Báo cáo điểm danh (Tạm tính)" in text and "Trần Thị Bình" not in text and "Lê Văn Cường" in text
    page = client.get(f"/sessions/{world.session_id}/report").text
    assert 'name="pending" value="1" >' in page and "(Tạm tính)" in page
    english = client.get(f"/api/sessions/{world.session_id}/report", params={"lang": "en"}).json()
    notes = {t["key"]: t["notes"] for t in english["tables"]}["absentees"]
    assert any(n.startswith("3 delegates not checked in are not listed") for n in notes), notes


def test_sheet_names_are_cut_between_words_and_unique() -> None:
    taken: set[str] = set()
    names = [sheet_name(title, taken) for title in ("Kết quả theo đơn vị – Phiên khai mạc buổi sáng",
                                                    "Kết quả theo đơn vị – Phiên khai mạc buổi chiều",
                                                    "Kết quả theo đơn vị: [Phiên] *ba*", "x" * 40)]
    assert names == ["Kết quả theo đơn vị – Phiên", "Kết quả theo đơn vị – Phiên 2", "Kết quả theo đơn vị Phiên ba",
                     "x" * 31]


def test_filters_json_and_scope(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    hold_session(client, world)
    sign_in(client, "org.p")
    data = client.get(f"/api/sessions/{world.session_id}/report", params={"source": "counted", "level": 2,
                                                                          "absence": "absent_excused"}).json()
    tables = {t["key"]: t for t in data["tables"]}
    assert [r["cells"][0] for r in tables["halls"]["rows"]][:-1] == ["Chi bộ thôn Hai", "Chi bộ thôn Một"]
    assert [r["cells"][1] for r in tables["absentees"]["rows"]] == ["Lê Văn Cường"]
    assert data["summary"]["expected"] == 5 and data["unit"]["name"] == "Đảng bộ tỉnh"
    assert client.get(f"/api/sessions/{world.session_id}/report", params={"channel": "telepathy"}).json()["field"] \
        == "channel"
    xlsx = client.get(f"/sessions/{world.session_id}/report.xlsx", params={"unit": world.units["D1"]})
    book = load_workbook(io.BytesIO(xlsx.content))
    assert [r["Điểm cầu"] for r in rows_of(sheet(book, "2. Kết quả điểm danh theo điểm cầu"))][:-1] == [
        HALL_NAME, "Chi bộ thôn Một"]

    # a hall chair sees their cell only; clerks, members and other districts are refused
    sign_in(client, "chair.c1")
    chair = client.get(f"/api/sessions/{world.session_id}/report").json()
    assert chair["unit"]["name"] == "Chi bộ thôn Một" and len(chair["tables"][1]["rows"]) == 2
    for username, unit, status in (("clerk.c1", None, 403), ("member.a1", None, 403), ("org.d1", "D2", 403),
                                   ("org.d1", "D1", 200)):
        sign_in(client, username)
        params = {"unit": world.units[unit]} if unit else {}
        assert client.get(f"/sessions/{world.session_id}/report", params=params).status_code == status, username
    client.cookies.clear()
    assert client.get(f"/api/sessions/{world.session_id}/report").status_code == 401
    assert client.get(f"/sessions/{world.session_id}/report.pdf", follow_redirects=False).status_code == 303


def test_a_report_before_a_merger_shows_the_units_as_they_were(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    svc = services_of(client)
    store = svc.conference.store
    org = call(client, store.user_by_name, "org.p")
    start = datetime.now(UTC) - timedelta(days=30)
    past = call(client, svc.conference.add_session, org, world.conference_id, "Phiên tháng trước", start,
                start + timedelta(hours=3))
    call(client, svc.ledger.store.put_checkin, CheckIn(past.id, world.persons["A1"], Status.PRESENT_IN_PERSON,
                                                       Method.QR, world.halls["C1"], start + timedelta(minutes=5)))
    day = start.astimezone(svc.settings.zone).date()
    for cell in ("C1", "C2"):  # the two cells merge ten days after the session
        call(client, store.set_unit_validity, world.units[cell], day + timedelta(days=10))
    merged = call(client, store.add_unit, new_unit("C12", "Chi bộ thôn Một – Hai", UnitType.CELL, world.units["D1"],
                                                    day + timedelta(days=11)))

    async def move_everyone() -> None:
        async with svc.engine.begin() as c:
            await c.execute(update(t.persons).values(unit_id=merged.id))

    call(client, move_everyone)
    svc.conference.forget_units()
    today = call(client, svc.conference.tree)
    assert merged.id in today and world.units["C1"] not in today

    sign_in(client, "org.p")
    report = client.get(f"/api/sessions/{past.id}/report", params={"pending": 1}).json()
    assert report["tree_as_of"] == day.isoformat()
    tables = {t["key"]: t for t in report["tables"]}
    units = {r["cells"][0]: r["cells"] for r in tables["units"]["rows"]}
    assert list(units) == ["Đảng bộ tỉnh", "Đảng bộ huyện Hai", "Chi bộ thôn Hai", "Đảng bộ huyện Một",
                           "Chi bộ thôn Một"]
    assert units["Chi bộ thôn Một"][2:4] == [2, 1] and units["Chi bộ thôn Hai"][2] == 1
    assert [r["cells"][:2] for r in tables["absentees"]["rows"]] == [["Chi bộ thôn Hai", "Lê Văn Cường"],
                                                                     ["Chi bộ thôn Một", "Trần Thị Bình"]]
    assert [r["cells"][1] for r in tables["halls"]["rows"]][:-1] == ["Chi bộ thôn Hai", "Chi bộ thôn Một"]
    page = client.get(f"/sessions/{past.id}/report").text
    assert f"Cơ cấu tổ chức đảng tính theo ngày {day.strftime('%d/%m/%Y')}" in page
    assert "Chi bộ thôn Một – Hai" not in page


def test_post_conference_report(world_client: tuple[TestClient, World], tmp_path: Path) -> None:
    client, world = world_client
    hold_session(client, world)
    csrf = sign_in(client, "member.a1")
    client.post("/api/feedback", json={"kind": "proposal", "content": "=1+2 <b>đề xuất</b>",
                                       "conference_id": world.conference_id}, headers={"X-CSRF-Token": csrf})
    sign_in(client, "org.p")
    page = client.get(f"/conferences/{world.conference_id}/result")
    assert page.status_code == 200 and "BÁO CÁO KẾT QUẢ" in page.text and "Kết quả theo đơn vị" in page.text
    pdf = client.get(f"/conferences/{world.conference_id}/result.pdf")
    text = pdf_text(pdf.content, tmp_path, "result")
    for expected in ("ĐẢNG BỘ TỈNH", "BAN TỔ CHỨC HỘI NGHỊ", "ĐẢNG CỘNG SẢN VIỆT NAM", "BÁO CÁO KẾT QUẢ",
                     "Hội nghị học tập Chuyên đề năm 2026",
                     "Phiên \"Buổi sáng\"", "triệu tập 5 đại biểu, có mặt 1 (20,0%)", "vắng có lý do 1",
                     "Đại biểu gửi 1 ý kiến", "Kết quả theo đơn vị – Buổi sáng", "T/M BAN TỔ CHỨC"):
        assert expected in text, expected
    book = load_workbook(io.BytesIO(client.get(f"/conferences/{world.conference_id}/result.xlsx").content))
    sessions = rows_of(sheet(book, "Kết quả điểm danh theo phiên"))
    assert (sessions[0]["Phiên"], sessions[0]["Triệu tập"], sessions[0]["Có mặt trực tiếp"]) == ("Buổi sáng", 5, 1)
    feedback = rows_of(sheet(book, "Ý kiến – đề xuất theo đơn vị, loại và trạng thái"))
    assert feedback[-1]["Đề xuất"] == 1 and feedback[-1]["Mới"] == 1
    sign_in(client, "member.a1")
    assert client.get(f"/conferences/{world.conference_id}/result").status_code == 403


def test_the_audit_view_is_for_administrators(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    hold_session(client, world)
    sign_in(client, "org.p")
    client.get(f"/sessions/{world.session_id}/report.xlsx")
    assert client.get("/audit").status_code == 403 and client.get("/api/audit").status_code == 403
    sign_in(client, "admin")
    page = client.get("/audit", params={"category": "personal_data"}).text
    assert "Xuất dữ liệu cá nhân" in page and "org.p" in page and f"session:{world.session_id}" in page
    attendance = client.get("/audit", params={"category": "attendance"}).text
    assert "Điểm danh và vắng mặt do cán bộ ghi tay" in attendance and "Lê Văn Cường" in attendance
    api = client.get("/api/audit", params={"user": "org.p"}).json()
    assert {e["action"] for e in api["entries"]} >= {"export_people", "sign_in"}
    assert all(e["actor"] == "org.p" for e in api["entries"])
    mine = client.get("/api/audit", params={"category": "accounts", "user": "admin"}).json()
    assert any(e["action"] == "view_audit" for e in mine["entries"])  # reading the log is logged too
    assert client.get("/api/audit", params={"from": "hôm qua"}).json()["field"] == "from"
