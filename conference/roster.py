"""Roster import, pure: spreadsheet rows in, a validated plan and a diff against the store out.

A file is refused whole: `plan_roster` checks every row and raises `ImportRefused` listing every
problem (sheet, row as the spreadsheet shows it, column as written in the file). `diff_roster` then
compares the plan with what is stored, so that importing the same file twice changes nothing.

Optional columns absent from a sheet (validity dates, position, member type, exempt) keep the
stored value of a record that already exists; a present but empty cell means "empty" or the default.
Units and persons not named in the file are left as they are: an import adds and updates, never deletes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

from conference.errors import ImportRefused, Invalid, RowProblem
from conference.people import NAME_MAX, POSITION_MAX, MemberType, Person
from conference.text import clean, fold
from conference.units import Unit, UnitType

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


@dataclass(frozen=True)
class RosterPlan:
    """A roster that passed every check, in file order."""

    units: list[UnitRow]
    persons: list[PersonRow]


@dataclass(frozen=True)
class RosterDiff:
    """What an import writes: exactly the arguments of `ConferenceStore.apply_roster`, and where."""

    new_units: list[Unit]  # parents before children
    changed_units: list[Unit]
    parent_codes: dict[str, str | None]  # code of every new or changed unit -> its parent's code
    new_persons: list[tuple[Person, str]]  # with the code of their unit
    changed_persons: list[tuple[Person, str]]
    anchors: frozenset[int | None]  # stored units at or under which it writes; None: a new top-level unit

    @property
    def empty(self) -> bool:
        return not (self.new_units or self.changed_units or self.new_persons or self.changed_persons)


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


class _Sheet:
    """Checks the rows of one sheet, recording problems against it."""

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


# -- checking a roster -------------------------------------------------------------------------------
@dataclass
class _Seen:
    """Where each code first appeared, to name both rows of a duplicate."""

    places: dict[str, tuple[str, int]]

    def first(self, sheet: _Sheet, row: int, code: str) -> bool:
        if not code:
            return True
        if code not in self.places:
            self.places[code] = (sheet.sheet.name, row)
            return True
        name, first_row = self.places[code]
        where = f"dòng {first_row}" if name == sheet.sheet.name else f"{name} dòng {first_row}"
        sheet.problem(row, sheet.headers["code"], f"mã «{code}» trùng với {where}")
        return False


def _unit_rows(sheet: _Sheet, seen: _Seen) -> list[tuple[_Sheet, int, UnitRow]]:
    rows: list[tuple[_Sheet, int, UnitRow]] = []
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


def _person_rows(sheet: _Sheet, seen: _Seen) -> list[tuple[_Sheet, int, PersonRow]]:
    rows: list[tuple[_Sheet, int, PersonRow]] = []
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


def _cycle(start: str, parents: Mapping[str, str | None]) -> list[str] | None:
    """The loop of parents that `start` is on, if it is on one."""
    path: list[str] = []
    code: str | None = start
    while code is not None and code in parents and code not in path:
        path.append(code)
        code = parents[code]
    return path if code == start else None


def _stored_parents(units: Sequence[Unit]) -> dict[str, str | None]:
    by_id = {u.id: u.code for u in units}
    return {u.code: by_id.get(u.parent_id) if u.parent_id is not None else None for u in units}


def _check_references(
    units: Sequence[tuple[_Sheet, int, UnitRow]], persons: Sequence[tuple[_Sheet, int, PersonRow]],
    file_codes: Collection[str], stored_parents: Mapping[str, str | None],
) -> None:
    """Parents and units named must exist, in the file or in the store; parents must not loop."""

    def unknown(code: str) -> str:
        return f"không có đơn vị mã «{code}» trong tệp hay trong hệ thống"

    known = {*file_codes, *stored_parents}
    parents = {**stored_parents, **{u.code: u.parent_code for _, _, u in units}}
    for sheet, n, unit in units:
        if unit.parent_code is not None and unit.parent_code not in known:
            sheet.problem(n, sheet.headers["parent_code"], unknown(unit.parent_code))
        elif loop := _cycle(unit.code, parents):
            sheet.problem(n, sheet.headers["parent_code"],
                          "cấp trên tạo thành vòng lặp: " + " → ".join([*loop, loop[0]]))
    for sheet, n, person in persons:
        if person.unit_code not in known:
            sheet.problem(n, sheet.headers["unit_code"], unknown(person.unit_code))


def plan_roster(sheets: Sequence[RosterSheet], stored_units: Sequence[Unit]) -> RosterPlan:
    """Check every row of every sheet; raise ImportRefused naming every bad row, else return the plan.

    Parent and unit codes may name units of the file or units already stored. A roster with no
    data row at all raises Invalid.
    """
    problems: list[RowProblem] = []
    unit_seen, person_seen = _Seen({}), _Seen({})
    units: list[tuple[_Sheet, int, UnitRow]] = []
    persons: list[tuple[_Sheet, int, PersonRow]] = []
    checked = [_Sheet(s, problems) for s in sheets]
    for sheet in checked:
        if sheet.sheet.kind is SheetKind.UNITS:
            units += _unit_rows(sheet, unit_seen)
        else:
            persons += _person_rows(sheet, person_seen)
    if not problems and not units and not persons:
        raise Invalid("tệp không có dòng dữ liệu nào")
    if all(s.columns_ok for s in checked if s.sheet.kind is SheetKind.UNITS):  # else every code would be unknown
        _check_references(units, persons, unit_seen.places.keys(), _stored_parents(stored_units))
    if problems:
        order = {s.name: i for i, s in enumerate(sheets)}
        raise ImportRefused(sorted(problems, key=lambda p: (order[p.sheet], p.row)))
    return RosterPlan([u for _, _, u in units], [p for _, _, p in persons])


# -- comparing with the store ------------------------------------------------------------------------
def _parents_first(units: Sequence[UnitRow]) -> list[UnitRow]:
    by_code = {u.code: u for u in units}
    ordered: list[UnitRow] = []
    placed: set[str] = set()
    for unit in units:
        chain: list[UnitRow] = []
        at: UnitRow | None = unit
        while at is not None and at.code not in placed:
            chain.append(at)
            placed.add(at.code)
            at = by_code.get(at.parent_code) if at.parent_code is not None else None
        ordered += reversed(chain)
    return ordered


def _unit(row: UnitRow, old: Unit | None, parent_id: int | None) -> Unit:
    """The unit as the row has it; columns the sheet lacks keep the stored value."""
    valid_from, valid_to = row.valid_from, row.valid_to
    if old is not None:
        valid_from = row.valid_from if "valid_from" in row.given else old.valid_from
        valid_to = row.valid_to if "valid_to" in row.given else old.valid_to
    return Unit(old.id if old else 0, row.code, row.name, row.type, parent_id, valid_from, valid_to)


def _person(row: PersonRow, old: Person | None, unit_id: int) -> Person:
    """The person as the row has it; columns the sheet lacks keep the stored value."""
    position, member_type, exempt = row.position, row.member_type, row.exempt
    if old is not None:
        position = row.position if "position" in row.given else old.position
        member_type = row.member_type if "member_type" in row.given else old.member_type
        exempt = row.exempt if "exempt" in row.given else old.exempt
    return Person(old.id if old else 0, row.code, row.full_name, unit_id, position, member_type, exempt)


def diff_roster(plan: RosterPlan, stored_units: Sequence[Unit], stored_persons: Mapping[str, Person]) -> RosterDiff:
    """What writing `plan` changes. Rows equal to what is stored are left out, so a repeat is empty.

    Units and persons get the stored id of an existing record (0 for a new one) and the stored id of
    their parent or unit when it already exists (None / 0 when the file creates it): the store
    resolves codes to ids, in `parent_codes` and the unit code paired with each person.
    """
    stored = {u.code: u for u in stored_units}
    plan_parents = {u.code: u.parent_code for u in plan.units}

    def anchor(code: str | None) -> int | None:
        while code is not None and code not in stored:
            code = plan_parents[code]
        return stored[code].id if code is not None else None

    new_units: list[Unit] = []
    changed_units: list[Unit] = []
    anchors: set[int | None] = set()
    for row in _parents_first(plan.units):
        old = stored.get(row.code)
        parent = stored.get(row.parent_code) if row.parent_code is not None else None
        unit = _unit(row, old, parent.id if parent else None)
        if old is None:
            new_units.append(unit)
            anchors.add(anchor(row.parent_code))
        elif unit != old:
            changed_units.append(unit)
            anchors.add(old.id)
            if unit.parent_id != old.parent_id:
                anchors.add(anchor(row.parent_code))
    new_persons: list[tuple[Person, str]] = []
    changed_persons: list[tuple[Person, str]] = []
    for p in plan.persons:
        before = stored_persons.get(p.code)
        unit_id = stored[p.unit_code].id if p.unit_code in stored else 0
        person = _person(p, before, unit_id)
        if before is None:
            new_persons.append((person, p.unit_code))
        elif person != before:
            changed_persons.append((person, p.unit_code))
            anchors.add(before.unit_id)
        else:
            continue
        anchors.add(anchor(p.unit_code))
    parent_codes = {u.code: plan_parents[u.code] for u in [*new_units, *changed_units]}
    return RosterDiff(new_units, changed_units, parent_codes, new_persons, changed_persons, frozenset(anchors))
