"""How attendance is counted, pure: the one rule behind the live dashboard, the hall page and the reports.

- The statuses are `attendance.checkins.Status`; present in person and present online both count as
  present (`attendance.checkins.PRESENT`).
- `expected` are invitees not exempt from party activities (miễn sinh hoạt); everyone's status still
  counts where it falls, so an exempt member who came is present.
- A hall counts its invitees, wherever their unit lies; a unit counts the invitees of its subtree.
- A hall that reported a headcount and has no individual check-ins shows the reported figures, with
  source "reported"; otherwise what was counted, with source "counted".
- A unit's percentage adds the reported present of the reported halls hosted in its subtree.

Every screen turns the stores' records into the same `Inputs` (`inputs`), then counts with `count` and
`hall_figures` (one hall: `one_hall`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from attendance.checkins import CheckIn, Status
from attendance.headcounts import Headcount

COUNTED = (Status.PRESENT_IN_PERSON, Status.PRESENT_ONLINE, Status.ABSENT_EXCUSED, Status.ABSENT_UNEXCUSED)
_SLOT: dict[str, int] = {status: i for i, status in enumerate(COUNTED, start=1)}


class Source(StrEnum):
    """Where a hall's figures come from."""

    COUNTED = "counted"  # its check-ins
    REPORTED = "reported"  # its headcount (báo cáo số lượng), for a hall without individual check-ins


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
        """Count `n` more (or fewer) people of `status` (a `Status` value; not checked in: nothing)."""
        if status in _SLOT:  # each counted status names its field
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


@dataclass(frozen=True)
class Inputs:
    """What counting one session needs, from whichever store: who is invited where (and whether they
    are expected), each person's status, each hall's headcount."""

    invited: dict[int, Invitee]
    statuses: dict[int, str]
    reported: dict[int, Reported]


def statuses_of(checkins: Iterable[CheckIn]) -> dict[int, str]:
    """person id -> status value of the given check-ins (of one session)."""
    return {c.person_id: c.status.value for c in checkins}


def reported_of(headcounts: Iterable[Headcount]) -> dict[int, Reported]:
    """hall id -> the figures of its headcount."""
    return {h.hall_id: Reported(h.expected, h.present, h.absent_excused, h.absent_unexcused) for h in headcounts}


def inputs(invitees: Iterable[tuple[int, int, int, bool]], statuses: Mapping[int, str],
           headcounts: Iterable[Headcount]) -> Inputs:
    """The counting inputs from (person id, hall id, unit id, exempt) of every invitee, the statuses
    (`statuses_of`, or the store's two columns) and the session's headcounts."""
    return Inputs({person: Invitee(hall, unit, not exempt) for person, hall, unit, exempt in invitees},
                  dict(statuses), reported_of(headcounts))


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


def hall_source(counts: Counts, reported: Reported | None) -> Source:
    counted_any = counts.present_in_person + counts.present_online > 0
    return Source.REPORTED if reported is not None and not counted_any else Source.COUNTED


def hall_figures(counts: Counts, reported: Reported | None) -> tuple[dict[str, Any], Source]:
    """A hall's figures (the keys of `Counts.view`) and their source."""
    source = hall_source(counts, reported)
    figures = counts.view()
    if source is Source.REPORTED and reported is not None:
        figures |= {"in_person": reported.present, "absent_excused": reported.absent_excused,
                    "absent_unexcused": reported.absent_unexcused,
                    "percent": percent(reported.present, counts.expected)}
    return figures, source


def one_hall(given: Inputs, hall_id: int) -> tuple[dict[str, Any], Source]:
    """One hall's figures and source, as `count` and `hall_figures` give them for every hall."""
    mine = {p: inv for p, inv in given.invited.items() if inv.hall_id == hall_id}
    halls, _ = count(mine, given.statuses, lambda _unit: (), [hall_id])
    return hall_figures(halls[hall_id], given.reported.get(hall_id))


def reported_present(hall_ids: Iterable[int], hall_counts: Mapping[int, Counts],
                     reported: Mapping[int, Reported]) -> int:
    """The present reported (not counted) by the given halls: those whose figures are the reported ones."""
    return sum(reported[h].present for h in hall_ids
               if h in reported and hall_source(hall_counts.get(h, Counts()), reported[h]) is Source.REPORTED)
