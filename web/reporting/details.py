"""The session report's tables of people and scans, pure: absentees per cell with their reasons (4),
check-in methods (5), refusals (5b), timing against the opening (5c), and feedback by unit (6)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta

from attendance.checkins import PRESENT, Method, Outcome, Refusal, Status
from attendance.counting import Source
from conference.feedback import FeedbackKind, FeedbackState
from conference.units import Unit, UnitTree
from web.reporting.figures import Figures
from web.reporting.model import Absence, Column, Filters, Kind, Row, Table, Words, display, number_columns

CHECKIN_METHODS = (Method.QR, Method.FACE, Method.MANUAL, Method.ONLINE)
OFFLINE_LAG = timedelta(minutes=1)  # a check-in recorded this long after the kiosk saw it was uploaded later


def absentees(fig: Figures, filters: Filters, words: Words) -> Table:
    """4. Absentees per cell, with their reasons, for make-up study; those not yet checked in only when
    asked for (`filters.pending`, or the filter to them), else counted in a note."""
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
    listed_pending = filters.pending or filters.absence == Absence.PENDING
    unlisted = 0
    for person, hall_id, unit_id in data.invitees:
        if person.exempt or unit_id not in subtree:
            continue
        if fig.sources.get(hall_id) == Source.REPORTED:
            continue  # a headcount has no names: see the note below
        status = fig.statuses.get(person.id, "")
        if status in PRESENT:
            continue
        shown = status if status in (Status.ABSENT_EXCUSED, Status.ABSENT_UNEXCUSED) else "pending"
        if filters.absence is not None and shown != filters.absence:
            continue
        if shown == "pending" and not listed_pending:
            unlisted += 1
            continue
        cell = tree.get(unit_id).name
        hall = halls[hall_id].name if hall_id in halls else ""
        label = t(f"status_{shown}") if shown != "pending" else t("rep_pending")
        path = paths.get(unit_id) or paths.setdefault(unit_id, tuple(u.name for u in tree.path(unit_id)))
        reason = reasons.get(person.id, "") if shown == Status.ABSENT_EXCUSED else ""
        found.append((path, person.search_key, Row((cell, person.full_name, person.position, hall, label, reason),
                                                   group=cell)))
    table.rows = [row for _, _, row in sorted(found, key=lambda item: (item[0], item[1]))]
    for h in data.halls:
        r = fig.reported.get(h.id)
        if fig.sources.get(h.id) == Source.REPORTED and r is not None and r.absent_excused + r.absent_unexcused:
            table.notes.append(t("rep_note_headcount_absent", hall=h.name, excused=r.absent_excused,
                                 unexcused=r.absent_unexcused))
    if unlisted:
        table.notes.append(t("rep_note_pending_unlisted", n=display(unlisted, Kind.NUMBER, words.lang)))
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
                   *number_columns(("rep_checkins", "rep_late", "rep_scans_accepted", "rep_scans_repeat",
                                    "rep_scans_refused"), t)])
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
    reported = sum(fig.reported[h].present for h in halls if h in fig.reported and fig.sources[h] == Source.REPORTED)
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
                  [Column(t("rep_unit"), width=2.8), *number_columns((f"fb_kind_{k.value}" for k in kinds), t),
                   *number_columns((f"fb_state_{s.value}" for s in states), t),
                   Column(t("rep_total"), Kind.NUMBER, 0.7)])
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


