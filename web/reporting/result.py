"""The post-conference report (Báo cáo kết quả), pure: the sessions' results in sentences and tables,
the documents handed out by QR and how often they were opened, and the feedback received.

Built from the same session data and table builders as the session reports, so its figures are the
reports' figures. Its PDF layout (national heading, signatures) is in web/render/files.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from conference.conferences import Conference
from conference.documents import Document
from conference.feedback import FeedbackKind, FeedbackState
from conference.halls import Channel
from conference.units import Unit, UnitTree
from web.reporting.details import feedback_table, methods
from web.reporting.figures import SessionData, figures_of
from web.reporting.model import Column, Filters, Kind, Row, Table, Words, display
from web.reporting.rollup import halls_overview, unit_rollup
from web.reporting.tables import session_summary


@dataclass(frozen=True)
class ConferenceResult:
    conference: Conference
    organiser_name: str
    root: Unit  # the unit whose subtree the report covers
    made_at: datetime
    paragraphs: list[str]  # the report's text, one paragraph each
    tables: list[Table]
    lang: str


def _date_line(moment: datetime, zone: tzinfo, words: Words) -> str:
    local = moment.astimezone(zone)
    return words.t("res_date", day=f"{local.day:02d}", month=f"{local.month:02d}", year=local.year)


def build_result(conference: Conference, root: Unit, sessions: list[SessionData], documents: list[Document],
                 openings: dict[int, int], feedback: list[tuple[int, FeedbackKind, FeedbackState, int]],
                 all_time: UnitTree, words: Words, lang: str, zone: tzinfo, now: datetime) -> ConferenceResult:
    t = words.t

    def num(n: object) -> str:
        return display(n if isinstance(n, int | float) else 0, Kind.NUMBER, lang)

    def pct(x: object) -> str:
        return display(x if isinstance(x, int | float) else 0.0, Kind.PERCENT, lang)

    def when(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")

    paragraphs: list[str] = []
    tables: list[Table] = []
    if sessions:
        first = sessions[0]
        channels = {c: sum(1 for h in first.halls if h.channel is c) for c in Channel}
        paragraphs.append(t("res_intro", conference=conference.title, unit=root.name, halls=num(len(first.halls)),
                            two_way=num(channels[Channel.TWO_WAY]), receive=num(channels[Channel.RECEIVE_ONLY]),
                            broadcast=num(channels[Channel.BROADCAST]), in_person=num(channels[Channel.IN_PERSON])))
        overview = halls_overview(first, words)
        keep = len(overview.columns) - 3  # a printed report has no use for "online right now"
        tables.append(replace(overview, columns=overview.columns[:keep],
                              rows=[replace(r, cells=r.cells[:keep]) for r in overview.rows]))
    else:
        paragraphs.append(t("res_no_sessions", conference=conference.title))
    summary = Table("sessions", t("res_table_sessions"),
                    [Column(t("rep_session"), width=2.2), Column(t("rep_time"), width=1.6),
                     *(Column(t(k), Kind.NUMBER, 0.8) for k in (
                         "rep_expected", "rep_in_person", "rep_online", "rep_reported_present", "rep_absent_excused",
                         "rep_absent_unexcused", "rep_pending")),
                     Column(t("rep_percent"), Kind.PERCENT, 0.8)])
    method_tables: list[Table] = []
    for data in sessions:
        fig = figures_of(data)
        s = session_summary(data, fig)
        present = s["in_person"] + s["online"] + s["reported_present"]
        paragraphs.append(t("res_session", session=data.session.title, start=when(data.session.starts_at),
                            expected=num(s["expected"]), present=num(present), percent=pct(s["percent"]),
                            in_person=num(s["in_person"]), online=num(s["online"]),
                            reported=num(s["reported_present"]), excused=num(s["absent_excused"]),
                            unexcused=num(s["absent_unexcused"]), pending=num(s["pending"])))
        summary.rows.append(Row((data.session.title, when(data.session.starts_at), s["expected"], s["in_person"],
                                 s["online"], s["reported_present"], s["absent_excused"], s["absent_unexcused"],
                                 s["pending"], s["percent"])))
        rollup = unit_rollup(fig, Filters(depth=1), words)
        rollup.title = t("res_table_units", session=data.session.title)
        rollup.key = f"units-{data.session.id}"
        tables.append(rollup)
        method_tables.append(methods(fig, words))
    if sessions:
        tables.insert(1, summary)
        tables.append(_summed(method_tables, t("res_table_methods")))
    total_openings = sum(openings.get(d.id, 0) for d in documents)
    paragraphs.append(t("res_documents", n=num(len(documents)), openings=num(total_openings)))
    docs = Table("documents", t("res_table_documents"),
                 [Column(t("doc_title"), width=3.0), Column(t("doc_number"), width=1.3),
                  Column(t("doc_issuer"), width=1.6), Column(t("doc_issued_on"), width=1.0),
                  Column(t("doc_category"), width=1.2), Column(t("doc_access"), width=1.2),
                  Column(t("doc_openings"), Kind.NUMBER, 0.8)])
    for d in documents:
        docs.rows.append(Row((d.title, d.number, d.issuer, d.issued_on.strftime("%d/%m/%Y") if d.issued_on else "",
                              d.category, t(f"doc_access_{d.access.value}"), openings.get(d.id, 0))))
    docs.rows.append(Row((t("rep_total"), "", "", "", "", "", total_openings), total=True))
    tables.append(docs)
    tree = sessions[0].tree if sessions else all_time
    fb = feedback_table(tree, root, feedback, all_time, words)
    tables.append(fb)
    totals = fb.rows[-1].cells
    kinds, states = len(FeedbackKind), list(FeedbackState)
    by_state = {state: totals[1 + kinds + i] for i, state in enumerate(states)}
    paragraphs.append(t("res_feedback", n=num(totals[-1]), answered=num(by_state[FeedbackState.ANSWERED]),
                        accepted=num(by_state[FeedbackState.ACCEPTED]),
                        working=num(by_state[FeedbackState.IN_PROGRESS]), new=num(by_state[FeedbackState.NEW]),
                        escalated=num(by_state[FeedbackState.ESCALATED])))
    paragraphs.insert(0, _date_line(now, zone, words))
    for table in tables:  # the session report's numbering means nothing here
        table.title = re.sub(r"^\d+[a-z]?\. ", "", table.title)
    organiser = all_time.get(conference.organiser_unit_id).name if conference.organiser_unit_id in all_time else ""
    return ConferenceResult(conference, organiser, root, now, paragraphs, tables, lang)


def _summed(tables: list[Table], title: str) -> Table:
    """Tables of the same shape (one per session) added cell by cell: numbers summed, labels kept."""
    first = tables[0]
    rows = []
    for i, row in enumerate(first.rows):
        cells: list[str | int | float | None] = [row.cells[0]]
        for j in range(1, len(row.cells)):
            values = [t.rows[i].cells[j] for t in tables]
            numbers = [v for v in values if isinstance(v, int | float)]
            cells.append(sum(numbers) if numbers else None)
        rows.append(replace(row, cells=tuple(cells)))
    return Table(f"{first.key}-all", title, first.columns, rows, list(first.notes))
