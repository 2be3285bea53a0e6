"""Roster import, pure: spreadsheet rows in, a validated plan and a diff against the store out.

A file is refused whole: `plan_roster` checks every row and raises `ImportRefused` listing every
problem (sheet, row as the spreadsheet shows it, column as written in the file). `diff_roster` then
compares the plan with what is stored, so that importing the same file twice changes nothing.

Optional columns absent from a sheet (validity dates, position, member type, exempt) keep the
stored value of a record that already exists; a present but empty cell means "empty" or the default.
Units and persons not named in the file are left as they are: an import adds and updates, never deletes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from conference.errors import ImportRefused, Invalid, RowProblem
from conference.people import Person
from conference.roster_sheets import (
    FirstSeen,
    PersonRow,
    RosterSheet,
    SheetKind,
    SheetReader,
    UnitRow,
    person_rows,
    unit_rows,
)
from conference.units import Unit


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


# -- checking a roster -------------------------------------------------------------------------------
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
    units: Sequence[tuple[SheetReader, int, UnitRow]], persons: Sequence[tuple[SheetReader, int, PersonRow]],
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
    unit_seen, person_seen = FirstSeen({}), FirstSeen({})
    units: list[tuple[SheetReader, int, UnitRow]] = []
    persons: list[tuple[SheetReader, int, PersonRow]] = []
    checked = [SheetReader(s, problems) for s in sheets]
    for sheet in checked:
        if sheet.sheet.kind is SheetKind.UNITS:
            units += unit_rows(sheet, unit_seen)
        else:
            persons += person_rows(sheet, person_seen)
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
