"""The unit tree (tổ chức đảng): province → committee → grassroots organisation → cell.

Units merge and split, so every unit has validity dates and a tree is always taken *as of* a date:
a report of a past conference uses the tree as it stood on the session's day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from conference.errors import Invalid, NotFound
from conference.text import clean


class UnitType(StrEnum):
    PROVINCE = "province"  # Đảng bộ tỉnh
    COMMITTEE = "committee"  # Đảng bộ huyện, khối (cấp trên cơ sở)
    GRASSROOTS = "grassroots"  # Tổ chức cơ sở đảng (đảng bộ / chi bộ cơ sở)
    CELL = "cell"  # Chi bộ trực thuộc


@dataclass(frozen=True)
class Unit:
    id: int
    code: str
    name: str
    type: UnitType
    parent_id: int | None
    valid_from: date | None = None
    valid_to: date | None = None  # last day the unit existed; None while it still exists

    def __post_init__(self) -> None:
        if not self.code or not self.name:
            raise Invalid("a unit needs a code and a name")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise Invalid("a unit cannot end before it starts", field="valid_to")

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


def new_unit(
    code: str,
    name: str,
    type: UnitType,
    parent_id: int | None,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> Unit:
    """A unit not yet stored (id 0), with its text cleaned."""
    return Unit(0, clean(code), clean(name), type, parent_id, valid_from, valid_to)


class UnitTree:
    """An immutable tree of the units valid on one day, with subtree and ancestor queries."""

    def __init__(self, units: Iterable[Unit], day: date | None = None) -> None:
        self.day = day
        self._units = {u.id: u for u in units if day is None or u.valid_on(day)}
        self._children: dict[int | None, list[int]] = {}
        for unit in self._units.values():
            parent = unit.parent_id if unit.parent_id in self._units else None
            self._children.setdefault(parent, []).append(unit.id)
        for ids in self._children.values():
            ids.sort(key=lambda i: (self._units[i].name, i))
        self._check_acyclic()

    def _check_acyclic(self) -> None:
        seen: set[int] = set()
        stack = list(self._children.get(None, []))
        while stack:
            uid = stack.pop()
            seen.add(uid)
            stack.extend(self._children.get(uid, []))
        if len(seen) != len(self._units):
            raise Invalid("the unit tree has a cycle")

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._units

    def __len__(self) -> int:
        return len(self._units)

    def get(self, unit_id: int) -> Unit:
        try:
            return self._units[unit_id]
        except KeyError:
            raise NotFound(f"unit {unit_id} not found") from None

    def roots(self) -> list[Unit]:
        return [self._units[i] for i in self._children.get(None, [])]

    def children(self, unit_id: int) -> list[Unit]:
        return [self._units[i] for i in self._children.get(unit_id, [])]

    def parent(self, unit_id: int) -> Unit | None:
        pid = self.get(unit_id).parent_id
        return self._units.get(pid) if pid is not None else None

    def ancestors(self, unit_id: int) -> list[Unit]:
        """From the unit's parent up to its root."""
        out: list[Unit] = []
        parent = self.parent(unit_id)
        while parent is not None:
            out.append(parent)
            parent = self.parent(parent.id)
        return out

    def path(self, unit_id: int) -> list[Unit]:
        """From the root down to the unit itself."""
        return [*reversed(self.ancestors(unit_id)), self.get(unit_id)]

    def level(self, unit_id: int) -> int:
        """0 for a root (the province), 1 for its committees, and so on."""
        return len(self.ancestors(unit_id))

    def walk(self, unit_id: int | None = None) -> Iterator[Unit]:
        """Depth-first, the unit first (or every root when None)."""
        stack = list(reversed(self._children.get(unit_id, []))) if unit_id is None else [unit_id]
        while stack:
            uid = stack.pop()
            yield self._units[uid]
            stack.extend(reversed(self._children.get(uid, [])))

    def subtree_ids(self, unit_id: int) -> set[int]:
        self.get(unit_id)
        return {u.id for u in self.walk(unit_id)}

    def within(self, unit_id: int, root_id: int) -> bool:
        """True when unit_id is root_id or lies below it."""
        if unit_id not in self._units:
            return False
        return unit_id == root_id or any(a.id == root_id for a in self.ancestors(unit_id))
