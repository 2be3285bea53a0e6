"""The roster core, pure: recognising tables, checking every row, and the diff against the store."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

import pytest

from conference.errors import ImportRefused, Invalid, RowProblem
from conference.people import MemberType, Person
from conference.roster import RosterDiff, diff_roster, plan_roster
from conference.roster_sheets import Cell, RosterSheet, SheetKind, classify
from conference.units import Unit, UnitType

UNIT_HEADER: list[Cell] = ["Mã", "Tên đơn vị", "Loại", "Mã cấp trên", "Hiệu lực từ", "Hiệu lực đến"]
PERSON_HEADER: list[Cell] = ["Mã", "Họ và tên", "Mã chi bộ", "Chức vụ", "Loại đảng viên", "Miễn sinh hoạt"]
UNITS: list[list[Cell]] = [
    UNIT_HEADER,
    ["T.H1.C1", "Chi bộ thôn Đông", "chi bộ", "T.H1", "01/01/2020", ""],  # a child before its parent
    ["T", "Đảng bộ tỉnh Quảng Bình", "Tỉnh", "", "2015-01-01", "30/06/2025"],
    ["T.H1", "Đảng bộ huyện Lệ Thủy", "Huyện", "T", datetime(2015, 1, 1, 0, 0), None],
]
PERSONS: list[list[Cell]] = [
    PERSON_HEADER,
    ["P1", "Nguyễn Văn An", "T.H1.C1", "Bí thư chi bộ", "Chính thức", ""],
    ["P2", "Trần Thị Ánh", "T.H1.C1", "", "dự bị", "x"],
    ["P3", "Lê Văn Khách", "T.H1", None, "Khách mời", "không"],
]


def sheets(units: Sequence[Sequence[Cell]] = UNITS, persons: Sequence[Sequence[Cell]] = PERSONS) -> list[RosterSheet]:
    return [RosterSheet(SheetKind.UNITS, "Đơn vị", units), RosterSheet(SheetKind.PERSONS, "Đảng viên", persons)]


def refused(tables: list[RosterSheet], stored: Sequence[Unit] = ()) -> list[RowProblem]:
    with pytest.raises(ImportRefused) as caught:
        plan_roster(tables, stored)
    return caught.value.problems


def store_after(diff: RosterDiff, units: Sequence[Unit] = (), persons: dict[str, Person] | None = None,
                ) -> tuple[list[Unit], dict[str, Person]]:
    """What the store would hold after writing `diff`: ids given, codes resolved (as apply_roster does)."""
    by_code = {u.code: u for u in units}
    next_id = max((u.id for u in units), default=0) + 1
    for u in diff.new_units:
        by_code[u.code] = replace(u, id=next_id)
        next_id += 1
    for u in diff.changed_units:
        by_code[u.code] = u
    for code, parent in diff.parent_codes.items():
        by_code[code] = replace(by_code[code], parent_id=by_code[parent].id if parent else None)
    people = dict(persons or {})
    for i, (p, unit_code) in enumerate([*diff.new_persons, *diff.changed_persons], start=len(people) + 1):
        people[p.code] = replace(p, id=p.id or i, unit_id=by_code[unit_code].id)
    return list(by_code.values()), people


def test_vietnamese_headers_and_words_make_a_plan() -> None:
    plan = plan_roster(sheets(), [])
    by_code = {u.code: u for u in plan.units}
    assert by_code["T"].type is UnitType.PROVINCE and by_code["T"].parent_code is None
    assert by_code["T"].valid_from == date(2015, 1, 1) and by_code["T"].valid_to == date(2025, 6, 30)
    assert by_code["T.H1"].type is UnitType.COMMITTEE and by_code["T.H1"].valid_from == date(2015, 1, 1)
    assert by_code["T.H1.C1"].type is UnitType.CELL and by_code["T.H1.C1"].valid_to is None
    p1, p2, p3 = plan.persons
    assert (p1.full_name, p1.unit_code, p1.position, p1.member_type, p1.exempt) == (
        "Nguyễn Văn An", "T.H1.C1", "Bí thư chi bộ", MemberType.FULL, False)
    assert (p2.member_type, p2.exempt) == (MemberType.PROBATIONARY, True)
    assert (p3.member_type, p3.exempt, p3.position) == (MemberType.GUEST, False, "")


def test_english_headers_enum_values_and_short_sheets() -> None:
    units = [["code", "name", "type", "parent_code"], ["T", "Province", "province"], ["C", "Cell", "cell", "T"]]
    persons = [["code", "full_name", "unit_code", "member_type", "exempt"],
               ["P1", "Lê Thị Hoa", "C", "probationary", "yes"], ["P2", "Lê Văn Nam", "C"]]
    plan = plan_roster(sheets(units, persons), [])
    assert [u.parent_code for u in plan.units] == [None, "T"]
    assert [(p.member_type, p.exempt) for p in plan.persons] == [(MemberType.PROBATIONARY, True),
                                                                  (MemberType.FULL, False)]


def test_decomposed_text_is_stored_in_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Nguyễn  Thị   Ánh ")
    header: list[Cell] = [unicodedata.normalize("NFD", str(h)) for h in PERSON_HEADER]
    plan = plan_roster(sheets(persons=[header, ["P1", nfd, "T.H1.C1", "", "", ""]]), [])
    assert plan.persons[0].full_name == "Nguyễn Thị Ánh"
    assert unicodedata.is_normalized("NFC", plan.persons[0].full_name)


def test_blank_rows_are_skipped_and_rows_keep_their_spreadsheet_numbers() -> None:
    units: list[list[Cell]] = [[None, None], [*UNIT_HEADER], [None] * 6, ["T", "Tỉnh", "tỉnh", ""], ["", " "],
                               ["X", "", "tỉnh", ""]]
    [problem] = refused(sheets(units, [PERSON_HEADER]))
    assert problem == RowProblem("Đơn vị", 6, "Tên đơn vị", "không được để trống")


def test_every_bad_row_is_named() -> None:
    units: list[list[Cell]] = [
        UNIT_HEADER,
        ["T", "Đảng bộ tỉnh", "tỉnh", "", "", ""],
        ["T", "Tỉnh lần hai", "tỉnh", "", "", ""],  # 3: duplicate code
        ["H", "Huyện", "thôn", "T", "", ""],  # 4: unknown type
        ["H2", "Huyện 2", "huyện", "ZZ", "", ""],  # 5: unknown parent
        ["A", "A", "cơ sở", "B", "", ""],  # 6: A -> B -> A
        ["B", "B", "cơ sở", "A", "", ""],  # 7
        ["C" * 65, "x" * 301, "chi bộ", "T", "", ""],  # 8: code and name too long
        ["D", "D", "chi bộ", "T", "31/02/2024", ""],  # 9: no such day
        ["E", "E", "chi bộ", "T", "02/01/2024", "01/01/2024"],  # 10: ends before it starts
        ["F", "F", "chi bộ", "T", "ngày mai", ""],  # 11: not a date
        ["", "G", "", "T", "", ""],  # 12: code and type empty
    ]
    persons: list[list[Cell]] = [
        PERSON_HEADER,
        ["P1", "Nguyễn Văn An", "T", "", "", ""],
        ["P1", "Nguyễn Văn Bình", "T", "", "", ""],  # 3: duplicate of row 2
        ["P3", "", "T", "", "", ""],  # 4: no name
        ["P4", "Lê Văn C", "NOWHERE", "", "", ""],  # 5: unknown unit
        ["P5", "Lê Văn D", "T", "", "đảng viên danh dự", "có lẽ"],  # 6: two bad values
        ["P6", "L" * 121, "T", "p" * 201, "", ""],  # 7: name and position too long
    ]
    problems = refused(sheets(units, persons))
    assert [(p.sheet, p.row, p.column) for p in problems] == [
        ("Đơn vị", 3, "Mã"), ("Đơn vị", 4, "Loại"), ("Đơn vị", 5, "Mã cấp trên"), ("Đơn vị", 6, "Mã cấp trên"),
        ("Đơn vị", 7, "Mã cấp trên"), ("Đơn vị", 8, "Mã"), ("Đơn vị", 8, "Tên đơn vị"),
        ("Đơn vị", 9, "Hiệu lực từ"), ("Đơn vị", 10, "Hiệu lực đến"), ("Đơn vị", 11, "Hiệu lực từ"),
        ("Đơn vị", 12, "Mã"), ("Đơn vị", 12, "Loại"),
        ("Đảng viên", 3, "Mã"), ("Đảng viên", 4, "Họ và tên"), ("Đảng viên", 5, "Mã chi bộ"),
        ("Đảng viên", 6, "Loại đảng viên"), ("Đảng viên", 6, "Miễn sinh hoạt"),
        ("Đảng viên", 7, "Họ và tên"), ("Đảng viên", 7, "Chức vụ"),
    ]
    messages = {(p.sheet, p.row, p.column): p.message for p in problems}
    assert messages[("Đơn vị", 3, "Mã")] == "mã «T» trùng với dòng 2"
    assert messages[("Đơn vị", 6, "Mã cấp trên")] == "cấp trên tạo thành vòng lặp: A → B → A"
    assert "«ZZ»" in messages[("Đơn vị", 5, "Mã cấp trên")]
    assert messages[("Đơn vị", 8, "Tên đơn vị")] == "dài 301 ký tự, tối đa 300"
    assert messages[("Đảng viên", 7, "Họ và tên")] == "dài 121 ký tự, tối đa 120"
    assert "không có thật" in messages[("Đơn vị", 9, "Hiệu lực từ")]
    assert str(problems[0]) == "Đơn vị dòng 3, cột Mã: mã «T» trùng với dòng 2"


def test_a_duplicate_across_sheets_names_the_other_sheet() -> None:
    extra = RosterSheet(SheetKind.PERSONS, "thêm.csv", [["ma", "ho ten", "ma don vi"], ["P1", "Lê Văn A", "T"]])
    problems = refused([*sheets(), extra])
    assert [str(p) for p in problems] == ["thêm.csv dòng 2, cột ma: mã «P1» trùng với Đảng viên dòng 2"]


def test_a_missing_column_is_one_problem_naming_it() -> None:
    persons = [["Mã", "Họ tên", "Chức vụ"], *([f"P{i}", "Lê Văn A", ""] for i in range(50))]
    [problem] = refused(sheets(persons=persons))
    assert problem == RowProblem("Đảng viên", 1, "Mã đơn vị", "thiếu cột bắt buộc «Mã đơn vị»")


def test_two_headers_with_one_meaning_are_refused() -> None:
    units: list[list[Cell]] = [[*UNIT_HEADER, "Mã đơn vị"], ["T", "Tỉnh", "tỉnh", "", "", "", "T"]]
    [problem] = refused(sheets(units, [PERSON_HEADER]))
    assert (problem.row, problem.column, problem.message) == (1, "Mã đơn vị", "trùng nghĩa với cột «Mã»")


def test_codes_may_name_stored_units_and_cycles_through_them_are_caught() -> None:
    stored = [Unit(1, "T", "Tỉnh", UnitType.PROVINCE, None), Unit(2, "H", "Huyện", UnitType.COMMITTEE, 1)]
    plan = plan_roster(sheets([UNIT_HEADER[:4], ["C", "Chi bộ", "chi bộ", "H"]],
                              [PERSON_HEADER[:3], ["P1", "Lê Văn A", "H"]]), stored)
    assert [u.code for u in plan.units] == ["C"] and plan.persons[0].unit_code == "H"
    [problem] = refused(sheets([UNIT_HEADER[:4], ["T", "Tỉnh", "tỉnh", "H"]], [PERSON_HEADER]), stored)
    assert problem.message == "cấp trên tạo thành vòng lặp: T → H → T"


def test_an_empty_roster_is_invalid() -> None:
    with pytest.raises(Invalid):
        plan_roster(sheets([UNIT_HEADER], [PERSON_HEADER, [None] * 6]), [])


def test_tables_are_recognised_by_sheet_name_or_headers() -> None:
    assert classify("Đảng viên", []) is SheetKind.PERSONS
    assert classify("don vi", [["x"]]) is SheetKind.UNITS
    assert classify("Sheet1", [[], UNIT_HEADER]) is SheetKind.UNITS
    assert classify(None, [PERSON_HEADER]) is SheetKind.PERSONS
    assert classify(None, [["Mã", "Họ và tên"]]) is SheetKind.PERSONS  # incomplete, but clearly persons
    assert classify("Hướng dẫn", [["Cách điền danh sách"]]) is None


def test_the_diff_orders_parents_first_and_a_repeat_is_empty() -> None:
    plan = plan_roster(sheets(), [])
    diff = diff_roster(plan, [], {})
    assert [u.code for u in diff.new_units] == ["T", "T.H1", "T.H1.C1"]
    assert diff.parent_codes == {"T": None, "T.H1": "T", "T.H1.C1": "T.H1"}
    assert [(p.code, code) for p, code in diff.new_persons] == [("P1", "T.H1.C1"), ("P2", "T.H1.C1"), ("P3", "T.H1")]
    assert diff.anchors == {None}  # only a new top-level unit: an administrator's import
    units, persons = store_after(diff)
    again = diff_roster(plan_roster(sheets(), units), units, persons)
    assert again.empty and again.anchors == frozenset()


def test_the_diff_finds_changes_and_keeps_columns_the_file_lacks() -> None:
    units, persons = store_after(diff_roster(plan_roster(sheets(), []), [], {}))
    ids = {u.code: u.id for u in units}
    short_units: list[list[Cell]] = [UNIT_HEADER[:4],
                                     ["T.H1.C1", "Chi bộ thôn Đông (mới)", "chi bộ", "T"]]  # renamed and moved
    short_persons: list[list[Cell]] = [PERSON_HEADER[:3],
                                       ["P2", "Trần Thị Ánh", "T.H1"], ["P1", "Nguyễn Văn An", "T.H1.C1"]]
    diff = diff_roster(plan_roster(sheets(short_units, short_persons), units), units, persons)
    [cell] = diff.changed_units
    assert (cell.name, cell.parent_id, cell.valid_from) == ("Chi bộ thôn Đông (mới)", ids["T"], date(2020, 1, 1))
    assert diff.parent_codes == {"T.H1.C1": "T"}
    [(moved, unit_code)] = diff.changed_persons
    assert (moved.code, unit_code, moved.member_type, moved.exempt) == ("P2", "T.H1", MemberType.PROBATIONARY, True)
    assert not diff.new_units and not diff.new_persons
    assert diff.anchors == {ids["T.H1.C1"], ids["T"], ids["T.H1"]}


def test_a_new_unit_is_anchored_at_its_nearest_stored_ancestor() -> None:
    stored = [Unit(1, "T", "Tỉnh", UnitType.PROVINCE, None), Unit(2, "H", "Huyện", UnitType.COMMITTEE, 1)]
    units: list[list[Cell]] = [UNIT_HEADER[:4], ["C2", "Chi bộ 2", "chi bộ", "G"], ["G", "Cơ sở", "cơ sở", "H"]]
    persons: list[list[Cell]] = [PERSON_HEADER[:3], ["P", "Lê Văn A", "C2"]]
    diff = diff_roster(plan_roster(sheets(units, persons), stored), stored, {})
    assert [u.code for u in diff.new_units] == ["G", "C2"]
    assert diff.anchors == {2}


def test_a_units_sheet_without_codes_does_not_make_every_person_unknown() -> None:
    units: list[list[Cell]] = [["Tên đơn vị", "Loại", "Mã cấp trên"], ["Tỉnh", "tỉnh", ""]]
    persons: list[list[Cell]] = [PERSON_HEADER[:3], *([f"P{i}", "Lê Văn A", "T"] for i in range(20))]
    assert [p.column for p in refused(sheets(units, persons))] == ["Mã"]
