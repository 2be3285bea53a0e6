"""Live attendance of one session, pure: who is expected where, who is present, rolled up the unit tree.

Built from the durable store (invitations, check-ins, headcounts), then kept current by applying
committed changes. It remembers which halls, units and minutes changed since the last push, so the
hub sends only those (`take_changes`), and can be rebuilt from the store at any time (`resync`):
rows that differ afterwards are marked changed, so every hub converges on the store's numbers.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from attendance.checkins import PRESENT
from attendance.counting import (
    Counts,
    HallInfo,
    Invitee,
    Reported,
    count,
    hall_figures,
    reported_present,
)
from conference.units import UnitTree
from web.live.messages import RECENT_MAX  # check-ins a topic's feed holds, in a snapshot and in a change

__all__ = ["RECENT_MAX", "Arrival", "Changes", "Counts", "HallInfo", "Invitee", "Reported", "SessionTally"]


class Arrival(NamedTuple):
    """A present check-in, as the rate chart and the feed need it."""

    person_id: int
    at: datetime
    hall_id: int | None
    method: str


@dataclass
class Changes:
    halls: set[int] = field(default_factory=set)
    units: set[int] = field(default_factory=set)
    minutes: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # unit -> minutes
    recent: list[dict[str, Any]] = field(default_factory=list)
    # filled by `take_changes`: of each changed row, the fields that differ from the last push
    hall_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    unit_rows: dict[int, dict[str, Any]] = field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.halls or self.units or self.minutes or self.recent)


class SessionTally:
    def __init__(self, session: dict[str, Any], tree: UnitTree, halls: list[HallInfo],
                 invited: dict[int, Invitee], statuses: dict[int, str], reported: dict[int, Reported]) -> None:
        self.session = session
        self.tree = tree
        self.halls = {h.id: h for h in halls}
        self.invited = invited
        self._chain: dict[int, list[int]] = {}
        self._subtree_halls: dict[int, list[int]] = defaultdict(list)
        for h in halls:
            if h.unit_id in tree:
                for u in self.chain(h.unit_id):
                    self._subtree_halls[u].append(h.id)
        self.connection: dict[int, tuple[str, datetime | None]] = {}
        self.rate: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.arrived: dict[int, str] = {}  # person id -> the minute their present check-in counts in the rate
        # each unit's and hall's newest check-ins, newest first (a unit's: those of its subtree's members)
        self.unit_recent: dict[int, deque[dict[str, Any]]] = defaultdict(lambda: deque(maxlen=RECENT_MAX))
        self.hall_recent: dict[int, deque[dict[str, Any]]] = defaultdict(lambda: deque(maxlen=RECENT_MAX))
        self.changes = Changes()
        self._load(statuses, reported)
        # each row as the last push left it (a subscriber's snapshot holds it or a later one)
        self._shown_halls: dict[int, dict[str, Any]] = {h: self.hall_row(h) for h in self.halls}
        self._shown_units: dict[int, dict[str, Any]] = {u: self.unit_row(u) for u in self.unit_counts if u in tree}

    def chain(self, unit_id: int) -> list[int]:
        """The unit and its ancestors (cached: the tree does not change under a session)."""
        cached = self._chain.get(unit_id)
        if cached is None:
            cached = self._chain[unit_id] = [unit_id, *(a.id for a in self.tree.ancestors(unit_id))] \
                if unit_id in self.tree else []
        return cached

    def _load(self, statuses: dict[int, str], reported: dict[int, Reported]) -> None:
        self.statuses = dict(statuses)
        self.reported = dict(reported)
        self.hall_counts: dict[int, Counts]
        self.unit_counts: dict[int, Counts]
        self.hall_counts, self.unit_counts = count(self.invited, self.statuses, self.chain, self.halls)

    # -- changes ------------------------------------------------------------------------------------
    def apply(self, person_id: int, status: str | None, at: datetime | None = None, name: str = "",
              hall_id: int | None = None, method: str = "", replay: bool = False) -> None:
        """A committed change of one person's status (None: their check-in was undone). A `replay` of a
        change already applied once (after a resync) fixes the counts without counting it twice in the
        rate and the recent feed."""
        inv = self.invited.get(person_id)
        old = self.statuses.get(person_id, "")
        new = status or ""
        if inv is None or old == new:
            return
        if new:
            self.statuses[person_id] = new
        else:
            self.statuses.pop(person_id, None)
        chain = self.chain(inv.unit_id)
        for counts in (self.hall_counts.setdefault(inv.hall_id, Counts()), *(self.unit_counts[u] for u in chain)):
            counts.add(old, -1)
            counts.add(new, 1)
        self.changes.halls.add(inv.hall_id)
        self.changes.units.update(chain)
        if new in PRESENT and at is not None and not replay:
            minute = self.arrived[person_id] = at.strftime("%Y-%m-%dT%H:%M")
            for u in chain:
                self.rate[u][minute] += 1
                self.changes.minutes[u].add(minute)
            item = self._feed_item(Arrival(person_id, at, hall_id, method), inv, name)
            self._feed(item, chain)
            self.changes.recent.append(item)
        elif old in PRESENT and new not in PRESENT and person_id in self.arrived:
            minute = self.arrived.pop(person_id)  # undone (or marked absent): out of the chart, as after a reload
            for u in chain:
                self.rate[u][minute] = max(0, self.rate[u][minute] - 1)
                self.changes.minutes[u].add(minute)

    def load_history(self, arrivals: list[Arrival], names: dict[int, str]) -> None:
        """The check-in rate and the recent feed rebuilt from the store's check-ins, `arrivals` oldest
        first (a hub that starts or restarts mid-session shows the same chart and feed as one that saw
        them arrive); `names` of the newest arrivals at least."""
        for a in arrivals:
            inv = self.invited.get(a.person_id)
            if inv is not None:
                minute = self.arrived[a.person_id] = a.at.strftime("%Y-%m-%dT%H:%M")
                for u in self.chain(inv.unit_id):
                    self.rate[u][minute] += 1
        for a in arrivals[-RECENT_MAX:]:
            inv = self.invited.get(a.person_id)
            if inv is not None:
                self._feed(self._feed_item(a, inv, names.get(a.person_id, "")), self.chain(inv.unit_id))

    def _feed(self, item: dict[str, Any], chain: list[int]) -> None:
        for u in chain:
            self.unit_recent[u].appendleft(item)
        self.hall_recent[item["hall_id"]].appendleft(item)

    def _feed_item(self, a: Arrival, inv: Invitee, name: str) -> dict[str, Any]:
        shown_hall = a.hall_id if a.hall_id in self.halls else inv.hall_id
        return {"at": a.at.isoformat(), "name": name, "hall": self.halls[shown_hall].name if shown_hall in
                self.halls else "", "hall_id": shown_hall, "unit_id": inv.unit_id, "method": a.method}

    def report(self, hall_id: int, reported: Reported | None) -> None:
        if hall_id not in self.halls:
            return
        if reported is None:
            self.reported.pop(hall_id, None)
        else:
            self.reported[hall_id] = reported
        self.changes.halls.add(hall_id)
        self.changes.units.update(self.chain(self.halls[hall_id].unit_id))

    def connect(self, hall_id: int, state: str, last_seen: datetime | None) -> None:
        if hall_id in self.halls and self.connection.get(hall_id) != (state, last_seen):
            self.connection[hall_id] = (state, last_seen)
            self.changes.halls.add(hall_id)
            self.changes.units.update(self.chain(self.halls[hall_id].unit_id))

    def resync(self, statuses: dict[int, str], reported: dict[int, Reported]) -> None:
        """Rebuild the counts from the store's; whatever differs is marked changed."""
        before_halls = {h: self.hall_row(h) for h in self.halls}
        before_units = {u: c.view() for u, c in self.unit_counts.items()}
        self._load(statuses, reported)
        self.changes.halls.update(h for h in self.halls if self.hall_row(h) != before_halls.get(h))
        self.changes.units.update(u for u, c in self.unit_counts.items() if c.view() != before_units.get(u))
        for h in self.changes.halls:
            self.changes.units.update(self.chain(self.halls[h].unit_id))

    def take_changes(self) -> Changes:
        """What changed since the last call, with the changed fields of each changed row: a change frame
        carries only those (clients merge them into their rows), a tenth of the full rows' size."""
        taken, self.changes = self.changes, Changes()
        for h in taken.halls:
            diff = _diff(self._shown_halls, h, self.hall_row(h))
            if diff:
                taken.hall_rows[h] = diff
        for u in taken.units:
            if u in self.tree:
                diff = _diff(self._shown_units, u, self.unit_row(u))
                if diff:
                    taken.unit_rows[u] = diff
        return taken

    # -- views --------------------------------------------------------------------------------------
    def hall_row(self, hall_id: int) -> dict[str, Any]:
        info = self.halls[hall_id]
        reported = self.reported.get(hall_id)
        figures, source = hall_figures(self.hall_counts.get(hall_id, Counts()), reported)
        state, seen = self.connection.get(hall_id, ("unknown", None))
        return {"id": info.id, "name": info.name, "unit_id": info.unit_id, "level": info.level,
                "channel": info.channel, **figures, "source": source,
                "reported": vars(reported) if reported else None, "connection": state,
                "last_seen": seen.isoformat() if seen else None}

    def unit_row(self, unit_id: int) -> dict[str, Any]:
        unit = self.tree.get(unit_id)
        return {"id": unit.id, "name": unit.name, "level": self.tree.level(unit_id),
                **self.unit_counts.get(unit_id, Counts()).view(self._reported_present(unit_id))}

    def _reported_present(self, unit_id: int) -> int:
        return reported_present(self._subtree_halls.get(unit_id, []), self.hall_counts, self.reported)

    def totals(self, unit_id: int, viewers: int) -> dict[str, Any]:
        reported = self._reported_present(unit_id)
        halls = self._subtree_halls.get(unit_id, [])
        return {**self.unit_counts.get(unit_id, Counts()).view(reported), "reported_present": reported,
                "viewers": viewers, "halls": len(halls),
                "halls_online": sum(self.connection.get(h, ("",))[0] == "online" for h in halls)}

    def unit_snapshot(self, unit_id: int, viewers: int) -> dict[str, Any]:
        return {
            "session": self.session,
            "unit": self.unit_row(unit_id),
            "totals": self.totals(unit_id, viewers),
            "halls": {str(h): self.hall_row(h) for h in self._subtree_halls.get(unit_id, [])},
            "units": {str(c.id): self.unit_row(c.id) for c in self.tree.children(unit_id)},
            "rate": dict(sorted(self.rate[unit_id].items())) if unit_id in self.rate else {},
            "recent": self._pushed(self.unit_recent.get(unit_id, ())),
        }

    def _pushed(self, feed: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Of a topic's newest check-ins, those already pushed: the others come in the next change frame
        (a snapshot holding them too would show them twice). A client that puts each change's `recent`
        before its own and keeps RECENT_MAX holds what a fresh snapshot would."""
        pending = {id(r) for r in self.changes.recent}
        return [r for r in feed if id(r) not in pending]

    def unit_change(self, unit_id: int, changes: Changes, viewers: int, viewers_changed: bool) -> dict[str, Any]:
        """What a subscriber of unit `unit_id` needs from `changes` (empty dict: nothing)."""
        out: dict[str, Any] = {}
        subtree_halls = self._subtree_halls.get(unit_id, [])
        halls = [h for h in subtree_halls if h in changes.hall_rows]
        if halls:
            out["halls"] = {str(h): changes.hall_rows[h] for h in halls}
        if unit_id in changes.unit_rows:
            out["unit"] = changes.unit_rows[unit_id]  # the unit's own counts, as its children's rows
        units = [c.id for c in self.tree.children(unit_id) if c.id in changes.unit_rows]
        if units:
            out["units"] = {str(u): changes.unit_rows[u] for u in units}
        if unit_id in changes.units or halls or viewers_changed:
            out["totals"] = self.totals(unit_id, viewers)
        minutes = changes.minutes.get(unit_id)
        if minutes:
            out["rate"] = {m: self.rate[unit_id][m] for m in sorted(minutes)}
        recent = [r for r in changes.recent if unit_id in self.chain(r["unit_id"])]
        if recent:
            out["recent"] = recent[:-RECENT_MAX - 1:-1]  # newest first, as many as a snapshot holds
        return out

    def hall_snapshot(self, hall_id: int) -> dict[str, Any]:
        return {"session": self.session, "hall": self.hall_row(hall_id),
                "recent": self._pushed(self.hall_recent.get(hall_id, ()))}

    def hall_change(self, hall_id: int, changes: Changes) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if hall_id in changes.halls:
            out["hall"] = self.hall_row(hall_id)
        recent = [r for r in changes.recent if r["hall_id"] == hall_id]
        if recent:
            out["recent"] = recent[:-RECENT_MAX - 1:-1]  # newest first, as many as a snapshot holds
        return out


def _diff(shown: dict[int, dict[str, Any]], key: int, row: dict[str, Any]) -> dict[str, Any]:
    """The fields of `row` that differ from the row last shown under `key` (all of them the first time);
    `row` becomes the one shown."""
    before = shown.get(key)
    shown[key] = row
    if before is None:
        return row
    return {k: v for k, v in row.items() if before.get(k) != v}
