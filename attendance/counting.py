"""How attendance is counted, pure: the one set of rules behind the live dashboard and the reports.

- `expected` are invitees not exempt from party activities (miễn sinh hoạt); everyone's status still
  counts where it falls, so an exempt member who came is present.
- A hall counts its invitees, wherever their unit lies; a unit counts the invitees of its subtree.
- A hall that reported a headcount and has no individual check-ins shows the reported figures, with
  source "reported"; otherwise what was counted, with source "counted".
- A unit's percentage adds the reported present of the reported halls hosted in its subtree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

PRESENT_IN_PERSON = "present_in_person"
PRESENT_ONLINE = "present_online"
ABSENT_EXCUSED = "absent_excused"
ABSENT_UNEXCUSED = "absent_unexcused"
COUNTED = (PRESENT_IN_PERSON, PRESENT_ONLINE, ABSENT_EXCUSED, ABSENT_UNEXCUSED)
_SLOT = {status: i for i, status in enumerate(COUNTED, start=1)}
SOURCE_COUNTED = "counted"
SOURCE_REPORTED = "reported"


def percent(present: int, expected: int) -> float:
    return round(100 * present / expected, 1) if expected else 0.0


@dataclass
class Counts:
    expected: int = 0
    present_in_person: int = 0
    present_online: int = 0
    absent_excused: int = 0
    absent_unexcused: int = 0

    def add(self, status: str, n: int) -> None:
        if status in COUNTED:
            setattr(self, status, getattr(self, status) + n)

    def view(self, reported_present: int = 0) -> dict[str, Any]:
        present = self.present_in_person + self.present_online + reported_present
        return {"expected": self.expected, "in_person": self.present_in_person, "online": self.present_online,
                "absent_excused": self.absent_excused, "absent_unexcused": self.absent_unexcused,
                "percent": percent(present, self.expected)}


@dataclass(frozen=True)
class HallInfo:
    id: int
    name: str
    unit_id: int
    level: int
    channel: str


class Invitee(NamedTuple):  # a tuple: a province builds 70,000 of them at a time
    hall_id: int
    unit_id: int
    expected: bool  # not exempt from party activities


@dataclass(frozen=True)
class Reported:
    expected: int
    present: int
    absent_excused: int
    absent_unexcused: int


def count(invited: Mapping[int, Invitee], statuses: Mapping[int, str], chain: Callable[[int], Iterable[int]],
          hall_ids: Iterable[int] = ()) -> tuple[dict[int, Counts], defaultdict[int, Counts]]:
    """Counts per hall (every hall of `hall_ids` present, even empty) and per unit (each invitee counted in
    their unit and every unit above it: `chain(unit)` gives them).

    Invitees are first summed per hall and per unit of their own, then each unit's sums are carried up its
    chain once: a province of 70,000 members has a few thousand units, so this is one pass over the people."""
    halls: dict[int, Counts] = {h: Counts() for h in hall_ids}
    own: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for person, inv in invited.items():
        status = statuses.get(person, "")
        slot = _SLOT.get(status, 0)
        hall = halls.get(inv.hall_id)
        if hall is None:
            hall = halls[inv.hall_id] = Counts()
        sums = own[inv.unit_id]
        if inv.expected:
            hall.expected += 1
            sums[0] += 1
        if slot:
            hall.add(status, 1)
            sums[slot] += 1
    units: defaultdict[int, Counts] = defaultdict(Counts)
    for unit_id, (expected, in_person, online, excused, unexcused) in own.items():
        for u in chain(unit_id):
            c = units[u]
            c.expected += expected
            c.present_in_person += in_person
            c.present_online += online
            c.absent_excused += excused
            c.absent_unexcused += unexcused
    return halls, units


def hall_source(counts: Counts, reported: Reported | None) -> str:
    counted_any = counts.present_in_person + counts.present_online > 0
    return SOURCE_REPORTED if reported is not None and not counted_any else SOURCE_COUNTED


def hall_figures(counts: Counts, reported: Reported | None) -> tuple[dict[str, Any], str]:
    """A hall's figures (the keys of `Counts.view`) and their source."""
    source = hall_source(counts, reported)
    figures = counts.view()
    if source == SOURCE_REPORTED and reported is not None:
        figures |= {"in_person": reported.present, "absent_excused": reported.absent_excused,
                    "absent_unexcused": reported.absent_unexcused,
                    "percent": percent(reported.present, counts.expected)}
    return figures, source


def reported_present(hall_ids: Iterable[int], hall_counts: Mapping[int, Counts],
                     reported: Mapping[int, Reported]) -> int:
    """The present reported (not counted) by the given halls: those whose figures are the reported ones."""
    return sum(reported[h].present for h in hall_ids
               if h in reported and hall_source(hall_counts.get(h, Counts()), reported[h]) == SOURCE_REPORTED)
