"""The report tables organisers expect (DOMAIN.md, "Reports organisers expect"), pure.

From what the stores hold about one session (halls, invitees with the unit they were invited from,
check-ins, headcounts, scan attempts, feedback) and the unit tree as it stood on the session's day,
build plain tables: titled columns and rows of text and numbers. The page, the XLSX and the PDF
all render these same tables, so the three always agree. Counting follows `attendance.counting`, the rules
the live dashboard uses. No I/O, no clock: `now` comes in (for the halls' connection status).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from attendance.checkins import CheckIn, Method, Outcome, Refusal
from attendance.counting import (
    ABSENT_EXCUSED,
    ABSENT_UNEXCUSED,
    PRESENT_IN_PERSON,
    PRESENT_ONLINE,
    SOURCE_REPORTED,
    Counts,
    Invitee,
    Reported,
    count,
    hall_figures,
    percent,
    reported_present,
)
from attendance.headcounts import Headcount
from conference.conferences import Conference, Session
from conference.feedback import FeedbackKind, FeedbackState
from conference.halls import Channel, ConnectionStatus, Hall
from conference.people import Person
from conference.units import Unit, UnitTree

HALL_EXPIRY = timedelta(seconds=60)  # as the live hub: a hall silent for longer is offline
LEVELS = (0, 1, 2, 3)
CHECKIN_METHODS = (Method.QR, Method.FACE, Method.MANUAL, Method.ONLINE)
OFFLINE_LAG = timedelta(minutes=1)  # a check-in recorded this long after the kiosk saw it was uploaded later


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    PERCENT = "percent"


Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = Kind.TEXT
    width: float = 1.0  # relative, for the PDF


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    depth: int = 0  # indentation of a unit in the rollup
    total: bool = False
    group: str = ""  # rows of one group (the absentees of one cell) are shown under its name


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    personal: bool = False  # holds personal data: viewing and exporting it are logged

    def column(self, title: str) -> list[Cell]:
        """The cells of one column, by its title (tests, and anyone reading a table back)."""
        i = [c.title for c in self.columns].index(title)
        return [r.cells[i] for r in self.rows]


@dataclass(frozen=True)
class Words:
    """The report's words in one language: `t` as web.i18n's translator, `refusal` a refusal reason."""

    t: Callable[..., str]
    refusal: Callable[[str], str]


@dataclass(frozen=True)
class Filters:
    level: int | None = None  # halls of one level
    channel: Channel | None = None
    source: str | None = None  # "counted" or "reported"
    absence: str | None = None  # absentees: "absent_excused", "absent_unexcused" or "pending"
    depth: int | None = None  # unit rollup: levels below the report's unit


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
    statuses: dict[int, str]
    invited: dict[int, Invitee]
    reported: dict[int, Reported]
    hall_counts: dict[int, Counts]
    unit_counts: dict[int, Counts]
    hall_pending: dict[int, int]
    unit_pending: dict[int, int]
    subtree_halls: dict[int, list[int]]
    sources: dict[int, str]

    def hall_row(self, hall_id: int) -> dict[str, Any]:
        counts = self.hall_counts.get(hall_id, Counts())
        figures, source = hall_figures(counts, self.reported.get(hall_id))
        if source == SOURCE_REPORTED:
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
    tree = data.tree
    chains: dict[int, list[int]] = {}

    def chain(unit_id: int) -> list[int]:
        found = chains.get(unit_id)
        if found is None:
            found = chains[unit_id] = [u.id for u in reversed(tree.path(unit_id))] if unit_id in tree else []
        return found

    invited = {p.id: Invitee(hall, unit, not p.exempt) for p, hall, unit in data.invitees}
    statuses = {c.person_id: c.status.value for c in data.checkins if c.session_id == data.session.id}
    reported = {h.hall_id: Reported(h.expected, h.present, h.absent_excused, h.absent_unexcused)
                for h in data.headcounts}
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
    return Figures(data, statuses, invited, reported, hall_counts, dict(unit_counts), dict(hall_pending),
                   dict(unit_pending), dict(subtree_halls), sources)


# -- the tables --------------------------------------------------------------------------------------
def session_tables(data: SessionData, filters: Filters, words: Words, fig: Figures | None = None) -> list[Table]:
    """Every table of the session report, in the order DOMAIN.md lists them."""
    fig = fig or figures_of(data)
    return [
        halls_overview(data, words),
        hall_attendance(fig, filters, words),
        unit_rollup(fig, filters, words),
        absentees(fig, filters, words),
        methods(fig, words),
        refusals(fig, words),
        timing(fig, words),
        feedback_table(data.tree, data.root, data.feedback, data.feedback_tree, words),
    ]


def _n(columns: Iterable[str], t: Callable[..., str], kind: Kind = Kind.NUMBER) -> list[Column]:
    return [Column(t(key), kind, 0.8) for key in columns]


ATTENDANCE_KEYS = ("rep_expected", "rep_in_person", "rep_online", "rep_absent_excused", "rep_absent_unexcused",
                   "rep_pending")


def halls_overview(data: SessionData, words: Words) -> Table:
    """1. Halls by level and channel, and their connection status now."""
    t = words.t
    channels = list(Channel)
    table = Table("overview", t("rep_table_overview"),
                  [Column(t("rep_level"), width=1.6),
                   *_n((f"channel_{c.value}" for c in channels), t),
                   Column(t("rep_total"), Kind.NUMBER, 0.8),
                   *_n((f"conn_{s.value}" for s in (ConnectionStatus.ONLINE, ConnectionStatus.OFFLINE,
                                                     ConnectionStatus.UNKNOWN)), t)])
    grid: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for h in data.halls:
        row = grid[h.level]
        row[h.channel.value] += 1
        row[h.status_at(data.now, HALL_EXPIRY).value] += 1
    total: dict[str, int] = defaultdict(int)
    for level in sorted(grid):
        row = grid[level]
        table.rows.append(Row((t(f"rep_level_{level}") if level in LEVELS else str(level),
                               *(row[c.value] for c in channels), sum(row[c.value] for c in channels),
                               *(row[s] for s in ("online", "offline", "unknown")))))
        for key, value in row.items():
            total[key] += value
    connections = (total[s] for s in ("online", "offline", "unknown"))
    table.rows.append(Row((t("rep_total"), *(total[c.value] for c in channels),
                           sum(total[c.value] for c in channels), *connections), total=True))
    return table


def _attendance_cells(row: dict[str, Any]) -> tuple[Cell, ...]:
    return (row["expected"], row["in_person"], row["online"], row["absent_excused"], row["absent_unexcused"],
            row["pending"])


def hall_attendance(fig: Figures, filters: Filters, words: Words) -> Table:
    """2. Per hall: expected, present in person / online, absent with / without reason, %, counted or reported."""
    t = words.t
    table = Table("halls", t("rep_table_halls"),
                  [Column(t("rep_hall"), width=2.6), Column(t("rep_host_unit"), width=2.0),
                   Column(t("rep_level"), width=1.0), Column(t("rep_channel"), width=1.1),
                   *_n(ATTENDANCE_KEYS, t), Column(t("rep_percent"), Kind.PERCENT, 0.8),
                   Column(t("rep_source"), width=0.9)])
    sums: dict[str, int] = defaultdict(int)
    tree = fig.data.tree
    for h in fig.data.halls:
        if filters.level is not None and h.level != filters.level:
            continue
        if filters.channel is not None and h.channel is not filters.channel:
            continue
        row = fig.hall_row(h.id)
        if filters.source is not None and row["source"] != filters.source:
            continue
        table.rows.append(Row((h.name, tree.get(h.unit_id).name if h.unit_id in tree else "",
                               t(f"rep_level_{h.level}") if h.level in LEVELS else str(h.level),
                               t(f"channel_{h.channel.value}"), *_attendance_cells(row), row["percent"],
                               t(f"rep_source_{row['source']}"))))
        for key in ("expected", "in_person", "online", "absent_excused", "absent_unexcused", "pending"):
            sums[key] += row[key]
    present = sums["in_person"] + sums["online"]
    table.rows.append(Row((t("rep_total_halls", n=len(table.rows)), "", "", "",
                           *_attendance_cells(sums), percent(present, sums["expected"]), ""), total=True))
    if any(fig.sources[h.id] == SOURCE_REPORTED for h in fig.data.halls):
        table.notes.append(t("rep_note_reported"))
    return table


def unit_rollup(fig: Figures, filters: Filters, words: Words) -> Table:
    """3. The same rolled up the unit tree: committee → grassroots organisation → cell."""
    t = words.t
    tree, root = fig.data.tree, fig.data.root
    table = Table("units", t("rep_table_units"),
                  [Column(t("rep_unit"), width=3.4), Column(t("rep_level"), width=1.0),
                   *_n(("rep_expected", "rep_in_person", "rep_online", "rep_reported_present", "rep_absent_excused",
                        "rep_absent_unexcused", "rep_pending"), t),
                   Column(t("rep_percent"), Kind.PERCENT, 0.8)])
    top = tree.level(root.id)
    for unit in tree.walk(root.id):
        depth = tree.level(unit.id) - top
        if filters.depth is not None and depth > filters.depth:
            continue
        counts = fig.unit_counts.get(unit.id)
        hosted = fig.subtree_halls.get(unit.id)
        if unit.id != root.id and counts is None and not hosted:
            continue  # nobody invited from it and no hall in it
        row = fig.unit_row(unit.id)
        level = tree.level(unit.id)
        table.rows.append(Row((unit.name, t(f"rep_level_{level}") if level in LEVELS else str(level),
                               row["expected"], row["in_person"], row["online"], row["reported_present"],
                               row["absent_excused"], row["absent_unexcused"], row["pending"], row["percent"]),
                              depth=depth, total=unit.id == root.id))
    return table


def absentees(fig: Figures, filters: Filters, words: Words) -> Table:
    """4. Absentees per cell, with their reasons, for make-up study."""
    t = words.t
    data = fig.data
    tree = data.tree
    halls = {h.id: h for h in data.halls}
    table = Table("absentees", t("rep_table_absentees"),
                  [Column(t("rep_cell"), width=2.2), Column(t("rep_full_name"), width=2.0),
                   Column(t("rep_position"), width=1.6), Column(t("rep_hall"), width=2.0),
                   Column(t("rep_status"), width=1.3), Column(t("rep_reason"), width=2.4)], personal=True)
    reasons = {c.person_id: c.absence_reason for c in data.checkins if c.absence_reason}
    subtree = tree.subtree_ids(data.root.id)
    paths: dict[int, tuple[str, ...]] = {}
    found: list[tuple[tuple[str, ...], str, Row]] = []
    for person, hall_id, unit_id in data.invitees:
        if person.exempt or unit_id not in subtree:
            continue
        if fig.sources.get(hall_id) == SOURCE_REPORTED:
            continue  # a headcount has no names: see the note below
        status = fig.statuses.get(person.id, "")
        if status in (PRESENT_IN_PERSON, PRESENT_ONLINE):
            continue
        shown = status if status in (ABSENT_EXCUSED, ABSENT_UNEXCUSED) else "pending"
        if filters.absence is not None and shown != filters.absence:
            continue
        cell = tree.get(unit_id).name
        hall = halls[hall_id].name if hall_id in halls else ""
        label = t(f"status_{shown}") if shown != "pending" else t("rep_pending")
        path = paths.get(unit_id) or paths.setdefault(unit_id, tuple(u.name for u in tree.path(unit_id)))
        found.append((path, person.search_key, Row((cell, person.full_name, person.position, hall, label,
                                                    reasons.get(person.id, "") if shown == ABSENT_EXCUSED else ""),
                                                   group=cell)))
    table.rows = [row for _, _, row in sorted(found, key=lambda item: (item[0], item[1]))]
    for h in data.halls:
        r = fig.reported.get(h.id)
        if fig.sources.get(h.id) == SOURCE_REPORTED and r is not None and r.absent_excused + r.absent_unexcused:
            table.notes.append(t("rep_note_headcount_absent", hall=h.name, excused=r.absent_excused,
                                 unexcused=r.absent_unexcused))
    if not table.rows and not table.notes:
        table.notes.append(t("rep_no_absentees"))
    return table


def _scope_scans(fig: Figures) -> list[tuple[int | None, Method, Outcome, Refusal | None, int]]:
    halls = {h.id for h in fig.data.halls}
    return [s for s in fig.data.scans if s[0] in halls]


def methods(fig: Figures, words: Words) -> Table:
    """5. Check-in methods: check-ins made by each, late ones, and every scan attempt (repeats, refusals)."""
    t = words.t
    halls = {h.id for h in fig.data.halls}
    table = Table("methods", t("rep_table_methods"),
                  [Column(t("rep_method"), width=2.0),
                   *_n(("rep_checkins", "rep_late", "rep_scans_accepted", "rep_scans_repeat", "rep_scans_refused"), t)])
    present = [c for c in fig.data.checkins if c.hall_id in halls and c.present]
    scans: dict[tuple[Method, Outcome], int] = defaultdict(int)
    for _, method, outcome, _, n in _scope_scans(fig):
        scans[(method, outcome)] += n
    sums = [0, 0, 0, 0, 0]
    for method in CHECKIN_METHODS:
        mine = [c for c in present if c.method is method]
        cells = [len(mine), sum(1 for c in mine if c.late), scans[(method, Outcome.ACCEPTED)],
                 scans[(method, Outcome.REPEAT)], scans[(method, Outcome.REFUSED)]]
        sums = [a + b for a, b in zip(sums, cells, strict=True)]
        table.rows.append(Row((t(f"rep_method_{method.value}"), *cells)))
    reported = sum(fig.reported[h].present for h in halls if h in fig.reported and fig.sources[h] == SOURCE_REPORTED)
    table.rows.append(Row((t("rep_method_headcount"), reported, None, None, None, None)))
    sums[0] += reported
    table.rows.append(Row((t("rep_total"), *sums), total=True))
    table.notes.append(t("rep_note_repeats"))
    return table


def refusals(fig: Figures, words: Words) -> Table:
    """5b. Why scans were refused."""
    t = words.t
    table = Table("refusals", t("rep_table_refusals"),
                  [Column(t("rep_reason"), width=3.0), Column(t("rep_scans"), Kind.NUMBER, 0.8)])
    by_reason: dict[Refusal, int] = defaultdict(int)
    for _, _, outcome, reason, n in _scope_scans(fig):
        if outcome is Outcome.REFUSED and reason is not None:
            by_reason[reason] += n
    for reason, n in sorted(by_reason.items(), key=lambda item: (-item[1], item[0].value)):
        table.rows.append(Row((words.refusal(reason.value), n)))
    table.rows.append(Row((t("rep_total"), sum(by_reason.values())), total=True))
    return table


def timing(fig: Figures, words: Words) -> Table:
    """5c. When people checked in, against the session's opening: time to check in, lateness, offline uploads."""
    t = words.t
    session = fig.data.session
    halls = {h.id for h in fig.data.halls}
    late_after = session.late_after_minutes
    table = Table("timing", t("rep_table_timing"),
                  [Column(t("rep_when"), width=3.0), Column(t("rep_checkins"), Kind.NUMBER, 0.8)])
    buckets = [0, 0, 0, 0]
    minutes: list[float] = []
    uploaded: list[float] = []
    for c in fig.data.checkins:
        if c.hall_id not in halls or not c.present or c.method is Method.ONLINE:
            continue
        seen = c.kiosk_time or c.server_time
        offset = (seen - session.starts_at).total_seconds() / 60
        minutes.append(offset)
        if c.kiosk_time is not None and c.server_time - c.kiosk_time > OFFLINE_LAG:
            uploaded.append((c.server_time - c.kiosk_time).total_seconds() / 60)
        if offset < -30:
            buckets[0] += 1
        elif offset < 0:
            buckets[1] += 1
        elif not c.late and offset <= late_after:
            buckets[2] += 1
        else:
            buckets[3] += 1
    labels = (t("rep_when_early"), t("rep_when_before"), t("rep_when_on_time", minutes=late_after),
              t("rep_when_late", minutes=late_after))
    table.rows.extend(Row((label, n)) for label, n in zip(labels, buckets, strict=True))
    table.rows.append(Row((t("rep_total"), sum(buckets)), total=True))
    if minutes:
        table.notes.append(t("rep_note_median", minutes=f"{statistics.median(minutes):+.0f}"))
    if uploaded:
        table.notes.append(t("rep_note_uploaded", n=len(uploaded), minutes=f"{max(uploaded):.0f}"))
    return table


def feedback_table(tree: UnitTree, root: Unit, counts: list[tuple[int, FeedbackKind, FeedbackState, int]],
                   all_time: UnitTree, words: Words) -> Table:
    """6. Feedback by unit, kind and state: one row per unit directly below the report's unit."""
    t = words.t
    kinds, states = list(FeedbackKind), list(FeedbackState)
    table = Table("feedback", t("rep_table_feedback"),
                  [Column(t("rep_unit"), width=2.8), *_n((f"fb_kind_{k.value}" for k in kinds), t),
                   *_n((f"fb_state_{s.value}" for s in states), t), Column(t("rep_total"), Kind.NUMBER, 0.7)])
    children = [u.id for u in tree.children(root.id)]
    names = {u.id: u.name for u in tree.children(root.id)}
    rows: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for unit_id, kind, state, n in counts:
        if unit_id not in all_time:
            continue
        path = [u.id for u in all_time.path(unit_id)]
        if root.id not in path:
            continue
        key = next((u for u in path if u in names), root.id)
        rows[key][kind.value] += n
        rows[key][state.value] += n
        rows[key]["total"] += n
    order = [u for u in children if u in rows] + ([root.id] if root.id in rows else [])
    for unit_id in order:
        row = rows[unit_id]
        label = names.get(unit_id) or t("rep_directly_under", unit=root.name)
        table.rows.append(Row((label, *(row[k.value] for k in kinds), *(row[s.value] for s in states), row["total"])))
    table.rows.append(Row((t("rep_total"), *(sum(rows[u][k.value] for u in rows) for k in kinds),
                           *(sum(rows[u][s.value] for u in rows) for s in states), sum(rows[u]["total"] for u in rows)),
                          total=True))
    return table


# -- the summary of a session (the report's heading and the post-conference report) -----------------
def session_summary(data: SessionData, fig: Figures | None = None) -> dict[str, Any]:
    """The report unit's totals: as the dashboard's totals, plus the not-yet-checked-in and the halls."""
    fig = fig or figures_of(data)
    row = fig.unit_row(data.root.id)
    online = sum(1 for h in data.halls if h.status_at(data.now, HALL_EXPIRY) is ConnectionStatus.ONLINE)
    return row | {"halls": len(data.halls), "halls_online": online,
                  "halls_reported": sum(1 for s in fig.sources.values() if s == SOURCE_REPORTED)}


def table_json(table: Table) -> dict[str, Any]:
    return {"key": table.key, "title": table.title, "personal": table.personal,
            "columns": [{"title": c.title, "kind": c.kind.value} for c in table.columns],
            "rows": [{"cells": list(r.cells), "depth": r.depth, "total": r.total, "group": r.group}
                     for r in table.rows],
            "notes": table.notes}
