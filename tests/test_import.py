"""Roster import through the real store, on SQLite and PostgreSQL: files in, rows written, all or nothing."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from conference.accounts import Role, User
from conference.errors import Forbidden, ImportRefused, Invalid
from conference.importer import RosterImporter, text_progress_bar
from conference.people import MemberType
from conference.roster_files import read_roster_file
from conference.store import ConferenceStore
from conference.units import UnitTree, UnitType

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 20, 7, 30, tzinfo=ICT)

UNITS_CSV = """Mã,Tên đơn vị,Loại,Mã cấp trên,Hiệu lực từ
T,Đảng bộ tỉnh Quảng Bình,Tỉnh,,01/01/2015
T.H1,Đảng bộ huyện Lệ Thủy,Huyện,T,
T.H1.C1,Chi bộ thôn Đông,Chi bộ,T.H1,
T.H2,Đảng bộ huyện Bố Trạch,Huyện,T,
T.H2.C1,Chi bộ thôn Tây,Chi bộ,T.H2,
"""
PERSON_HEADER: list[object] = ["Mã", "Họ và tên", "Mã đơn vị", "Chức vụ", "Loại đảng viên", "Miễn sinh hoạt"]
PERSONS = [
    ["P1", "Nguyễn Văn An", "T.H1.C1", "Bí thư chi bộ", "Chính thức", None],
    ["P2", "Trần Thị Ánh", "T.H1.C1", None, "Dự bị", "x"],
    ["P3", "Đặng Văn Đức", "T.H2.C1", None, None, None],
]


def xlsx(path: Path, rows: Sequence[Sequence[object]], title: str = "Đảng viên") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def organiser(scope_unit_id: int) -> User:
    return User(7, "btg.huyen", "Ban Tuyên giáo huyện", Role.ORGANISER, scope_unit_id)


@pytest.fixture
def importer(engine: AsyncEngine) -> RosterImporter:
    return RosterImporter(ConferenceStore(engine), lambda: NOW)


async def seed(importer: RosterImporter, tmp_path: Path) -> dict[str, int]:
    """The province of UNITS_CSV with PERSONS, imported from the command line; unit ids by code."""
    (tmp_path / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    await importer.import_files([tmp_path / "units.csv", xlsx(tmp_path / "persons.xlsx", [PERSON_HEADER, *PERSONS])])
    return {u.code: u.id for u in await importer.store.all_units()}


async def test_csv_and_xlsx_import_writes_units_and_persons_once(importer: RosterImporter, tmp_path: Path) -> None:
    store = importer.store
    (tmp_path / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    files = [tmp_path / "units.csv", xlsx(tmp_path / "persons.xlsx", [PERSON_HEADER, *PERSONS])]
    seen: list[tuple[int, int]] = []
    counts = await importer.import_files(files, progress=lambda done, total: seen.append((done, total)))
    assert (counts.units_added, counts.persons_added, counts.units_changed, counts.persons_changed) == (5, 3, 0, 0)
    assert seen[-1] == (3, 3)

    units = await store.all_units()
    tree = UnitTree(units)
    ids = {u.code: u.id for u in units}
    assert [u.code for u in tree.path(ids["T.H1.C1"])] == ["T", "T.H1", "T.H1.C1"]
    assert tree.get(ids["T"]).valid_from == date(2015, 1, 1) and tree.get(ids["T.H2"]).type is UnitType.COMMITTEE
    people = await store.persons_by_code()
    assert people["P1"].position == "Bí thư chi bộ" and people["P1"].unit_id == ids["T.H1.C1"]
    assert (people["P2"].member_type, people["P2"].exempt) == (MemberType.PROBATIONARY, True)
    found, _ = await store.find_persons(None, "dang van duc")
    assert [p.code for p in found] == ["P3"]

    again = await importer.import_files(files)
    assert not again.changed_anything
    assert await store.persons_by_code() == people
    assert await store.all_units() == units


async def test_a_file_with_bad_rows_is_refused_whole(importer: RosterImporter, tmp_path: Path) -> None:
    await seed(importer, tmp_path)
    units_before, persons_before = await importer.store.all_units(), await importer.store.persons_by_code()
    rows: list[list[object]] = [
        PERSON_HEADER,
        ["P1", "Nguyễn Văn An (đổi tên)", "T.H1.C1", None, None, None],  # fine, but must not be written
        ["P9", "", "T.H1.C1", None, None, None],
        ["P10", "Lê Văn Mười", "T.H9", None, None, None],
        ["P11", "Lê Văn Mười Một", "T.H1.C1", None, "Cảm tình đảng", None],
        ["P12", "Lê Văn Mười Hai", "T.H1.C1", None, None, None],
    ]
    with pytest.raises(ImportRefused) as caught:
        await importer.import_files([xlsx(tmp_path / "bad.xlsx", rows)])
    assert [(p.sheet, p.row, p.column) for p in caught.value.problems] == [
        ("bad.xlsx › Đảng viên", 3, "Họ và tên"), ("bad.xlsx › Đảng viên", 4, "Mã đơn vị"),
        ("bad.xlsx › Đảng viên", 5, "Loại đảng viên")]
    assert await importer.store.all_units() == units_before and await importer.store.persons_by_code() == persons_before


async def test_semicolon_csv_with_bom_and_changes(importer: RosterImporter, tmp_path: Path) -> None:
    await seed(importer, tmp_path)
    text = "\ufeffma;ho ten;ma chi bo;chuc vu\nP2;Trần Thị Ánh;T.H2.C1;Chi ủy viên\nP4;Hồ Thị Lan;T.H2.C1;\n"
    counts = await importer.import_files([("thay-doi.csv", text.encode("utf-8"))])
    assert (counts.persons_added, counts.persons_changed) == (1, 1)
    moved = (await importer.store.persons_by_code())["P2"]
    assert moved.position == "Chi ủy viên" and moved.exempt  # columns the file lacks keep their values


async def test_an_organiser_imports_only_into_their_own_subtree(importer: RosterImporter, tmp_path: Path) -> None:
    ids = await seed(importer, tmp_path)
    district = organiser(ids["T.H1"])
    mine: list[list[object]] = [PERSON_HEADER[:3], ["P5", "Phan Văn Năm", "T.H1.C1"]]
    counts = await importer.import_files([xlsx(tmp_path / "mine.xlsx", mine)], actor=district)
    assert counts.persons_added == 1
    refused: list[tuple[str, list[list[object]]]] = [
        ("theirs.xlsx", [PERSON_HEADER[:3], ["P6", "Phan Văn Sáu", "T.H2.C1"]]),
        ("steal.xlsx", [PERSON_HEADER[:3], ["P3", "Đặng Văn Đức", "T.H1.C1"]]),  # P3 lives in T.H2
        ("unit.xlsx", [["Mã", "Tên đơn vị", "Loại", "Mã cấp trên"], ["T.H2.C2", "Chi bộ mới", "chi bộ", "T.H2"]]),
    ]
    for name, rows in refused:
        with pytest.raises(Forbidden):
            await importer.import_files([xlsx(tmp_path / name, rows, title="Sheet1")], actor=district)
    clerk = User(8, "thu.ky", "Thư ký", Role.HALL_CLERK, ids["T.H1"])
    with pytest.raises(Forbidden):
        await importer.import_files([xlsx(tmp_path / "mine.xlsx", mine)], actor=clerk)
    assert "P6" not in await importer.store.persons_by_code()


async def test_an_import_is_recorded_with_its_digest(importer: RosterImporter, tmp_path: Path) -> None:
    data = UNITS_CSV.encode("utf-8")
    await importer.import_files([("units.csv", data)])
    assert await importer.store.import_digest_seen(hashlib.sha256(data).hexdigest())


def test_unreadable_files_are_invalid(tmp_path: Path) -> None:
    for name, data in [("x.xls", b"\xd0\xcf\x11\xe0rest"), ("x.xlsx", b"PK\x03\x04broken"), ("x.pdf", b"%PDF"),
                       ("x.csv", "Mã,Họ tên\n".encode("utf-16")), ("x.csv", b""), ("x.csv", b"a,b\n1,2\n")]:
        with pytest.raises(Invalid) as caught:
            read_roster_file(name, data)
        assert caught.value.message.startswith(f"{name}: ")
    book = xlsx(tmp_path / "guide.xlsx", [["Hướng dẫn điền danh sách"]], title="Hướng dẫn")
    with pytest.raises(Invalid):
        read_roster_file(book.name, book.read_bytes())


def test_a_workbook_with_both_sheets_and_a_guide(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    guide = book.active
    assert guide is not None
    guide.title = "Hướng dẫn"
    guide.append(["Điền mỗi đảng viên một dòng"])
    units = book.create_sheet("Đơn vị")
    units.append(["Mã", "Tên đơn vị", "Loại", "Mã cấp trên", "Hiệu lực từ"])
    units.append([1, "Đảng bộ tỉnh", "tỉnh", None, datetime(2015, 1, 1)])
    persons = book.create_sheet("Danh sách")
    persons.append(PERSON_HEADER)
    persons.append([1001.0, "Lê Văn A", 1, None, None, True])
    book.save(tmp_path / "roster.xlsx")
    sheets = read_roster_file("roster.xlsx", (tmp_path / "roster.xlsx").read_bytes())
    assert [(s.kind, s.name) for s in sheets] == [("units", "roster.xlsx › Đơn vị"),
                                                  ("persons", "roster.xlsx › Danh sách")]
    assert sheets[0].rows[1] == ["1", "Đảng bộ tỉnh", "tỉnh", None, date(2015, 1, 1)]
    assert sheets[1].rows[1] == ["1001", "Lê Văn A", "1", None, None, "true"]


def test_text_progress_bar_is_throttled_and_ends_the_line() -> None:
    out = io.StringIO()
    bar = text_progress_bar(out, width=10, every_seconds=60)
    for done in range(0, 70_001, 2000):
        bar(done, 70_000)
    bar(70_000, 70_000)
    assert out.getvalue() == "\r[..........] 0/70.000 đảng viên\r[##########] 70.000/70.000 đảng viên\n"
