"""The counts behind every table of one session report, pure, computed once from what the stores hold
about the session (halls, invitees with the unit they were invited from, check-ins, headcounts, scan
attempts, feedback) and the unit tree as it stood on the session's day.

Counting is `attendance.counting`'s, the rule the live dashboard and the hall page use: the records
become its `Inputs` and its `count` and `hall_figures` do the rest. No I/O, no clock: `now` comes in
(for the halls' connection status).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from attendance.checkins import CheckIn, Method, Outcome, Refusal
from attendance.counting import (
    Counts,
    Inputs,
    Reported,
    Source,
    count,
    hall_figures,
    inputs,
    reported_present,
    statuses_of,
)
from attendance.headcounts import Headcount
from conference.conferences import Conference, Session
from conference.feedback import FeedbackKind, FeedbackState
from conference.halls import Hall
from conference.people import Person
from conference.units import Unit, UnitTree


@dataclass(frozen=True)
class SessionData:
    conference: Conference
    session: Session
    tree: UnitTree  # as it stood on the session's day
    root: Unit  # the report covers this unit's subtree
    halls: list[Hall]  # hosted in the subtree
    invitees: list[tuple[Person, int, int]]  # (person, hall id, the unit they were invited from)
    checkins: list[CheckIn]
    headcounts: list[Headcount]
    scans: list[tuple[int | None, Method, Outcome, Refusal | None, int]]  # counted attempts
    feedback: list[tuple[int, FeedbackKind, FeedbackState, int]]  # (unit, kind, state, how many)
    feedback_tree: UnitTree  # every unit that ever existed: feedback keeps the unit it was sent from
    now: datetime


@dataclass
class Figures:
    """The counts behind every table of one session report, computed once."""

    data: SessionData
    given: Inputs  # invitees, statuses, headcounts, as attendance.counting takes them
    hall_counts: dict[int, Counts]
    unit_counts: dict[int, Counts]
    hall_pending: dict[int, int]
    unit_pending: dict[int, int]
    subtree_halls: dict[int, list[int]]
    sources: dict[int, Source]

    @property
    def statuses(self) -> dict[int, str]:
        return self.given.statuses

    @property
    def reported(self) -> dict[int, Reported]:
        return self.given.reported

    def hall_row(self, hall_id: int) -> dict[str, Any]:
        counts = self.hall_counts.get(hall_id, Counts())
        figures, source = hall_figures(counts, self.reported.get(hall_id))
        if source is Source.REPORTED:
            r = self.reported[hall_id]
            pending = max(0, counts.expected - r.present - r.absent_excused - r.absent_unexcused)
        else:
            pending = self.hall_pending.get(hall_id, 0)
        return figures | {"pending": pending, "source": source}

    def unit_row(self, unit_id: int) -> dict[str, Any]:
        reported = reported_present(self.subtree_halls.get(unit_id, []), self.hall_counts, self.reported)
        counts = self.unit_counts.get(unit_id, Counts())
        return counts.view(reported) | {"reported_present": reported, "pending": self.unit_pending.get(unit_id, 0)}


def figures_of(data: SessionData) -> Figures:
    """The counts of `data`, by hall and by unit of the report's tree."""
    tree = data.tree
    chains: dict[int, list[int]] = {}

    def chain(unit_id: int) -> list[int]:
        found = chains.get(unit_id)
        if found is None:
            found = chains[unit_id] = [u.id for u in reversed(tree.path(unit_id))] if unit_id in tree else []
        return found

    given = inputs(((p.id, hall, unit, p.exempt) for p, hall, unit in data.invitees),
                   statuses_of(c for c in data.checkins if c.session_id == data.session.id), data.headcounts)
    invited, statuses, reported = given.invited, given.statuses, given.reported
    hall_ids = [h.id for h in data.halls]
    hall_counts, unit_counts = count(invited, statuses, chain, hall_ids)
    hall_pending: dict[int, int] = defaultdict(int)
    unit_pending: dict[int, int] = defaultdict(int)
    for person, inv in invited.items():
        if inv.expected and not statuses.get(person):
            hall_pending[inv.hall_id] += 1
            for u in chain(inv.unit_id):
                unit_pending[u] += 1
    subtree_halls: dict[int, list[int]] = defaultdict(list)
    for h in data.halls:
        for u in chain(h.unit_id):
            subtree_halls[u].append(h.id)
    sources = {h: hall_figures(hall_counts.get(h, Counts()), reported.get(h))[1] for h in hall_ids}
    return Figures(data, given, hall_counts, dict(unit_counts), dict(hall_pending),
                   dict(unit_pending), dict(subtree_halls), sources)


