"""The session report's tables of attendance by place, pure: the halls by level and channel (1), each
hall's attendance (2), and the same rolled up the unit tree (3)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from attendance.counting import Source, percent
from conference.halls import Channel, ConnectionStatus
from web.reporting.figures import Figures, SessionData
from web.reporting.model import Cell, Column, Filters, Kind, Row, Table, Words, level_label, number_columns

ATTENDANCE_KEYS = ("rep_expected", "rep_in_person", "rep_online", "rep_absent_excused", "rep_absent_unexcused",
                   "rep_pending")


def halls_overview(data: SessionData, words: Words) -> Table:
    """1. Halls by level and channel, and their connection status now."""
    t = words.t
    channels = list(Channel)
    table = Table("overview", t("rep_table_overview"),
                  [Column(t("rep_level"), width=1.6),
                   *number_columns((f"channel_{c.value}" for c in channels), t),
                   Column(t("rep_total"), Kind.NUMBER, 0.8),
                   *number_columns((f"conn_{s.value}" for s in (ConnectionStatus.ONLINE, ConnectionStatus.OFFLINE,
                                                                ConnectionStatus.UNKNOWN)), t)])
    grid: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for h in data.halls:
        row = grid[h.level]
        row[h.channel.value] += 1
        row[h.status_at(data.now).value] += 1
    total: dict[str, int] = defaultdict(int)
    for level in sorted(grid):
        row = grid[level]
        table.rows.append(Row((level_label(level, t),
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
                   *number_columns(ATTENDANCE_KEYS, t), Column(t("rep_percent"), Kind.PERCENT, 0.8),
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
                               level_label(h.level, t),
                               t(f"channel_{h.channel.value}"), *_attendance_cells(row), row["percent"],
                               t(f"rep_source_{row['source']}"))))
        for key in ("expected", "in_person", "online", "absent_excused", "absent_unexcused", "pending"):
            sums[key] += row[key]
    present = sums["in_person"] + sums["online"]
    table.rows.append(Row((t("rep_total_halls", n=len(table.rows)), "", "", "",
                           *_attendance_cells(sums), percent(present, sums["expected"]), ""), total=True))
    if any(fig.sources[h.id] == Source.REPORTED for h in fig.data.halls):
        table.notes.append(t("rep_note_reported"))
    return table


def unit_rollup(fig: Figures, filters: Filters, words: Words) -> Table:
    """3. The same rolled up the unit tree: committee → grassroots organisation → cell."""
    t = words.t
    tree, root = fig.data.tree, fig.data.root
    table = Table("units", t("rep_table_units"),
                  [Column(t("rep_unit"), width=3.4), Column(t("rep_level"), width=1.0),
                   *number_columns(("rep_expected", "rep_in_person", "rep_online", "rep_reported_present",
                                    "rep_absent_excused", "rep_absent_unexcused", "rep_pending"), t),
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
        table.rows.append(Row((unit.name, level_label(level, t),
                               row["expected"], row["in_person"], row["online"], row["reported_present"],
                               row["absent_excused"], row["absent_unexcused"], row["pending"], row["percent"]),
                              depth=depth, total=unit.id == root.id))
    return table


