"""Reading roster sheets, pure: which table a sheet holds (units or persons, by its name or its headers),
where its columns are (headers as people write them, in Vietnamese or English, with or without
diacritics), and each data row read and checked into a `UnitRow` or `PersonRow`, every problem recorded
against the sheet, row and column as the spreadsheet shows them. Checking the rows against each other
and the stored tree, and the diff, are in `conference/roster.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

from conference.errors import RowProblem
from conference.people import NAME_MAX, POSITION_MAX, MemberType
from conference.text import clean, fold
from conference.units import UnitType

Cell = str | date | None  # a datetime is a date too
Row = Sequence[Cell]

T = TypeVar("T")
CODE_MAX = 64
UNIT_NAME_MAX = 300


class SheetKind(StrEnum):
    UNITS = "units"
    PERSONS = "persons"


@dataclass(frozen=True)
class RosterSheet:
    """One table of a roster file: every row as the sheet shows it, row 1 first (blank rows included)."""

    kind: SheetKind
    name: str  # how problems name it, e.g. "danh-sach.xlsx › Đảng viên"
    rows: Sequence[Row]


@dataclass(frozen=True)
class Column:
    field: str
    label: str  # the Vietnamese header of the template; names the column when it is missing
    aliases: frozenset[str]  # header keys (see `header_key`) that mean this column
    required: bool = True


def _column(field: str, label: str, aliases: str, required: bool = True) -> Column:
    return Column(field, label, frozenset(a.strip() for a in aliases.split("|")), required)


UNIT_COLUMNS = (
    _column("code", "Mã", "code|unit code|ma|ma don vi|ma to chuc|ma to chuc dang"),
    _column("name", "Tên đơn vị", "name|unit name|ten|ten don vi|ten to chuc|ten to chuc dang"),
    _column("type", "Loại", "type|unit type|loai|loai don vi|loai to chuc|cap"),
    _column("parent_code", "Mã cấp trên", "parent|parent code|ma cap tren|ma don vi cap tren|cap tren|truc thuoc"),
    _column("valid_from", "Hiệu lực từ", "valid from|hieu luc tu|tu ngay|ngay thanh lap", required=False),
    _column("valid_to", "Hiệu lực đến", "valid to|hieu luc den|den ngay|ngay giai the", required=False),
)
PERSON_COLUMNS = (
    _column("code", "Mã", "code|person code|ma|ma dang vien|ma so|ma ho so"),
    _column("full_name", "Họ và tên", "full name|name|ho va ten|ho ten|ten"),
    _column("unit_code", "Mã đơn vị", "unit|unit code|ma don vi|ma chi bo|ma to chuc|ma to chuc dang"),
    _column("position", "Chức vụ", "position|chuc vu", required=False),
    _column("member_type", "Loại đảng viên", "member type|loai dang vien|doi tuong", required=False),
    _column("exempt", "Miễn sinh hoạt", "exempt|mien sinh hoat|mien", required=False),
)
COLUMNS = {SheetKind.UNITS: UNIT_COLUMNS, SheetKind.PERSONS: PERSON_COLUMNS}

SHEET_NAMES = {
    "units": SheetKind.UNITS, "unit": SheetKind.UNITS, "don vi": SheetKind.UNITS,
    "to chuc dang": SheetKind.UNITS, "to chuc": SheetKind.UNITS,
    "persons": SheetKind.PERSONS, "people": SheetKind.PERSONS, "dang vien": SheetKind.PERSONS,
    "danh sach dang vien": SheetKind.PERSONS, "nguoi": SheetKind.PERSONS,
}

UNIT_TYPES = {
    **{t.value: t for t in UnitType},
    **dict.fromkeys(("tinh", "dang bo tinh", "thanh pho truc thuoc trung uong"), UnitType.PROVINCE),
    **dict.fromkeys(("huyen", "quan", "thi xa", "khoi", "dang bo huyen", "dang bo khoi", "cap tren co so",
                     "cap tren truc tiep co so"), UnitType.COMMITTEE),
    **dict.fromkeys(("co so", "to chuc co so dang", "dang bo co so", "chi bo co so", "xa", "phuong",
                     "thi tran"), UnitType.GRASSROOTS),
    **dict.fromkeys(("chi bo", "chi bo truc thuoc", "chi bo truc thuoc dang uy co so"), UnitType.CELL),
}
MEMBER_TYPES = {
    **{t.value: t for t in MemberType},
    "": MemberType.FULL,
    **dict.fromkeys(("chinh thuc", "dang vien chinh thuc"), MemberType.FULL),
    **dict.fromkeys(("du bi", "dang vien du bi"), MemberType.PROBATIONARY),
    **dict.fromkeys(("khach", "khach moi"), MemberType.GUEST),
}
YES_NO = {
    **dict.fromkeys(("co", "x", "1", "true", "yes", "mien"), True),
    **dict.fromkeys(("", "khong", "0", "false", "no"), False),
}

_PARENTHESES = re.compile(r"\(.*?\)")
_SEPARATORS = re.compile(r"[\s_\-*:.]+")
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    type: UnitType
    parent_code: str | None
    valid_from: date | None
    valid_to: date | None
    given: frozenset[str]  # the columns the sheet has: an optional one it lacks keeps the stored value


@dataclass(frozen=True)
class PersonRow:
    code: str
    full_name: str
    unit_code: str
    position: str
    member_type: MemberType
    exempt: bool
    given: frozenset[str]


# -- recognising sheets and columns ------------------------------------------------------------------
def header_key(text: str) -> str:
    """"Mã cấp trên (*)", "parent_code", "MA CAP TREN:" -> "ma cap tren"."""
    return _SEPARATORS.sub(" ", fold(_PARENTHESES.sub(" ", text))).strip()


def _is_blank(row: Row) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def header_row(rows: Sequence[Row]) -> int | None:
    """Index of the header: the first row that is not blank (None when every row is)."""
    return next((i for i, row in enumerate(rows) if not _is_blank(row)), None)


def _header_fields(header: Row, kind: SheetKind) -> set[str]:
    keys = {header_key(_text(cell)) for cell in header}
    return {c.field for c in COLUMNS[kind] if c.aliases & keys}


def classify(sheet_name: str | None, rows: Sequence[Row]) -> SheetKind | None:
    """Units or persons: by the sheet's name when it says ("Đơn vị", "persons"), else by the headers."""
    if sheet_name is not None and (kind := SHEET_NAMES.get(header_key(sheet_name))):
        return kind
    at = header_row(rows)
    if at is None:
        return None
    found = {kind: _header_fields(rows[at], kind) for kind in SheetKind}
    complete = [k for k in SheetKind if {c.field for c in COLUMNS[k] if c.required} <= found[k]]
    if len(complete) == 1:
        return complete[0]
    units, persons = len(found[SheetKind.UNITS]), len(found[SheetKind.PERSONS])
    if units == persons:
        return None
    return SheetKind.UNITS if units > persons else SheetKind.PERSONS


# -- reading cells -----------------------------------------------------------------------------------
def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, date):
        return cell.strftime("%d/%m/%Y")
    return clean(cell)


def _date(cell: Cell) -> date | None:
    """dd/mm/yyyy, yyyy-mm-dd or a spreadsheet date; raises ValueError with a message to show."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = _text(cell)
    if not text:
        return None
    if m := _DMY.fullmatch(text):
        day, month, year = (int(g) for g in m.groups())
    elif m := _YMD.fullmatch(text):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise ValueError(f"ngày «{text}» không đúng dạng dd/mm/yyyy")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"ngày «{text}» không có thật") from None


class SheetReader:
    """Reads and checks the rows of one sheet, recording problems against it."""

    def __init__(self, sheet: RosterSheet, problems: list[RowProblem]) -> None:
        self.sheet = sheet
        self.problems = problems
        self.at = header_row(sheet.rows)
        self.columns: dict[str, int] = {}  # field -> cell index
        self.headers: dict[str, str] = {}  # field -> header as written
        self.columns_ok = self.at is not None and self._find_columns(sheet.rows[self.at])
        self.given = frozenset(self.columns)

    def _find_columns(self, header: Row) -> bool:
        specs = COLUMNS[self.sheet.kind]
        ok = True
        for index, cell in enumerate(header):
            written = _text(cell)
            key = header_key(written)
            for spec in specs:
                if key not in spec.aliases:
                    continue
                if spec.field in self.columns:
                    self.problem(self.at_row, written, f"trùng nghĩa với cột «{self.headers[spec.field]}»")
                    ok = False
                else:
                    self.columns[spec.field], self.headers[spec.field] = index, written
        for spec in specs:
            if spec.required and spec.field not in self.columns:
                self.problem(self.at_row, spec.label, f"thiếu cột bắt buộc «{spec.label}»")
                ok = False
        return ok

    @property
    def at_row(self) -> int:
        return (self.at or 0) + 1

    def problem(self, row: int, column: str, message: str) -> None:
        self.problems.append(RowProblem(self.sheet.name, row, column, message))

    def data(self) -> Iterable[tuple[int, dict[str, Cell]]]:
        """(row number, field -> cell) for every non-blank row below the header."""
        if not self.columns_ok or self.at is None:
            return
        columns = self.columns.items()
        for index in range(self.at + 1, len(self.sheet.rows)):
            row = self.sheet.rows[index]
            if _is_blank(row):
                continue
            yield index + 1, {f: row[i] if i < len(row) else None for f, i in columns}

    def text(self, row: int, cells: Mapping[str, Cell], field: str, limit: int, required: bool) -> str:
        value = _text(cells.get(field))
        if required and not value:
            self.problem(row, self.headers[field], "không được để trống")
        elif len(value) > limit:
            self.problem(row, self.headers[field], f"dài {len(value)} ký tự, tối đa {limit}")
        return value

    def choice(self, row: int, cells: Mapping[str, Cell], field: str, choices: Mapping[str, T],
               default: T) -> T:
        if field not in cells:
            return default
        value = _text(cells[field])
        found = choices.get(fold(value))
        if found is None:
            self.problem(row, self.headers[field], f"không hiểu giá trị «{value}»")
            return default
        return found

    def day(self, row: int, cells: Mapping[str, Cell], field: str) -> date | None:
        try:
            return _date(cells.get(field))
        except ValueError as e:
            self.problem(row, self.headers[field], str(e))
            return None


# -- reading rows ----------------------------------------------------------------------------------
@dataclass
class FirstSeen:
    """Where each code first appeared, to name both rows of a duplicate."""

    places: dict[str, tuple[str, int]]

    def first(self, sheet: SheetReader, row: int, code: str) -> bool:
        if not code:
            return True
        if code not in self.places:
            self.places[code] = (sheet.sheet.name, row)
            return True
        name, first_row = self.places[code]
        where = f"dòng {first_row}" if name == sheet.sheet.name else f"{name} dòng {first_row}"
        sheet.problem(row, sheet.headers["code"], f"mã «{code}» trùng với {where}")
        return False


def unit_rows(sheet: SheetReader, seen: FirstSeen) -> list[tuple[SheetReader, int, UnitRow]]:
    rows: list[tuple[SheetReader, int, UnitRow]] = []
    for n, cells in sheet.data():
        before = len(sheet.problems)
        code = sheet.text(n, cells, "code", CODE_MAX, required=True)
        name = sheet.text(n, cells, "name", UNIT_NAME_MAX, required=True)
        type_text = sheet.text(n, cells, "type", UNIT_NAME_MAX, required=True)
        unit_type = UNIT_TYPES.get(fold(type_text))
        if type_text and unit_type is None:
            sheet.problem(n, sheet.headers["type"], f"không hiểu loại đơn vị «{type_text}»")
        parent = sheet.text(n, cells, "parent_code", CODE_MAX, required=False) or None
        valid_from, valid_to = sheet.day(n, cells, "valid_from"), sheet.day(n, cells, "valid_to")
        if valid_from and valid_to and valid_to < valid_from:
            sheet.problem(n, sheet.headers["valid_to"], "ngày hết hiệu lực trước ngày bắt đầu")
        if seen.first(sheet, n, code) and len(sheet.problems) == before and unit_type is not None:
            rows.append((sheet, n, UnitRow(code, name, unit_type, parent, valid_from, valid_to, sheet.given)))
    return rows


def person_rows(sheet: SheetReader, seen: FirstSeen) -> list[tuple[SheetReader, int, PersonRow]]:
    rows: list[tuple[SheetReader, int, PersonRow]] = []
    for n, cells in sheet.data():
        before = len(sheet.problems)
        code = sheet.text(n, cells, "code", CODE_MAX, required=True)
        full_name = sheet.text(n, cells, "full_name", NAME_MAX, required=True)
        unit_code = sheet.text(n, cells, "unit_code", CODE_MAX, required=True)
        position = sheet.text(n, cells, "position", POSITION_MAX, required=False)
        member_type = sheet.choice(n, cells, "member_type", MEMBER_TYPES, MemberType.FULL)
        exempt = sheet.choice(n, cells, "exempt", YES_NO, False)
        if seen.first(sheet, n, code) and len(sheet.problems) == before:
            rows.append((sheet, n, PersonRow(code, full_name, unit_code, position, member_type, exempt,
                                             sheet.given)))
    return rows
