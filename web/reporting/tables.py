"""A session report (DOMAIN.md, "Reports organisers expect"), pure: every table in the order DOMAIN.md
lists them (web/reporting/rollup.py, web/reporting/details.py), and the summary of the report's unit.
The page, the XLSX and the PDF all render these same tables, so the three always agree.
"""

from __future__ import annotations

from typing import Any

from attendance.counting import Source
from conference.halls import ConnectionStatus
from web.reporting.details import absentees, feedback_table, methods, refusals, timing
from web.reporting.figures import Figures, SessionData, figures_of
from web.reporting.model import Filters, Table, Words
from web.reporting.rollup import hall_attendance, halls_overview, unit_rollup


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


def session_summary(data: SessionData, fig: Figures | None = None) -> dict[str, Any]:
    """The report unit's totals: as the dashboard's totals, plus the not-yet-checked-in and the halls."""
    fig = fig or figures_of(data)
    row = fig.unit_row(data.root.id)
    online = sum(1 for h in data.halls if h.status_at(data.now) is ConnectionStatus.ONLINE)
    return row | {"halls": len(data.halls), "halls_online": online,
                  "halls_reported": sum(1 for s in fig.sources.values() if s == Source.REPORTED)}
