"""The reports' use cases: gather one session's records from both packages, build the tables, and log
who saw or exported personal data. It wires the conference service (scope, the tree as it stood, the
audit log) to the attendance store (check-ins, headcounts, scan attempts), like web/usecases/cards.py does;
the session's check-ins and headcounts come through web/usecases/attendance.py, as the hall page's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from attendance.checkins import CheckIn
from attendance.store import LedgerStore
from conference.accounts import User
from conference.audit import AuditCategory
from conference.conferences import Conference
from conference.halls import Hall
from conference.people import Person
from conference.service import ConferenceService
from conference.service_reports import AuditPage
from conference.units import Unit
from web.i18n import REFUSALS, translator
from web.reporting.figures import SessionData, figures_of
from web.reporting.model import Filters, Table, Words
from web.reporting.result import ConferenceResult, build_result
from web.reporting.tables import session_summary, session_tables
from web.usecases.attendance import Attendance


def words(lang: str) -> Words:
    index = 1 if lang == "en" else 0
    return Words(translator(lang), lambda reason: REFUSALS.get(reason, (reason, reason))[index], lang)


@dataclass(frozen=True)
class SessionReport:
    data: SessionData
    tables: list[Table]
    summary: dict[str, object]


@dataclass(frozen=True)
class OperatedCheckIn:
    """A check-in or absence recorded by hand, as the audit view lists it."""

    checkin: CheckIn
    operator: User | None
    person: Person | None
    hall: Hall | None


@dataclass(frozen=True)
class AuditView:
    page: AuditPage
    operated: list[OperatedCheckIn]


class Reports:
    def __init__(self, conference: ConferenceService, ledger: LedgerStore, zone: tzinfo,
                 attendance: Attendance) -> None:
        self.conference = conference
        self.ledger = ledger
        self.zone = zone
        self.attendance = attendance  # the session's records, read as the hall page reads them

    async def session_data(self, actor: User, session_id: int, unit_id: int | None) -> SessionData:
        """Everything a session report shows, for the subtree the actor may see (Forbidden otherwise)."""
        scope = await self.conference.report_scope(actor, session_id, unit_id, self.zone)
        checkins, headcounts = await self.attendance.records(session_id, {h.id for h in scope.halls})
        return SessionData(
            conference=scope.conference, session=scope.session, tree=scope.tree, root=scope.root,
            halls=scope.halls, invitees=scope.invitees, checkins=checkins, headcounts=headcounts,
            scans=await self.ledger.scan_summary(session_id),
            feedback=await self.conference.store.feedback_counts(scope.conference.id),
            feedback_tree=await self.conference.all_time_tree(),
            now=self.conference.clock(),
        )

    async def session_report(self, actor: User, session_id: int, unit_id: int | None, filters: Filters,
                             lang: str, export: str = "") -> SessionReport:
        """The report's tables; showing (or exporting, `export` = "xlsx"/"pdf"/"json") names is logged."""
        data = await self.session_data(actor, session_id, unit_id)
        fig = figures_of(data)
        tables = session_tables(data, filters, words(lang), fig)
        named = sum(len(t.rows) for t in tables if t.personal)
        if named:
            await self.conference.log_personal_data(
                actor, bool(export) and export != "json", f"session:{session_id}",
                f"report of unit {data.root.id}: absentees n={named}" + (f", {export}" if export else ""))
        return SessionReport(data, tables, session_summary(data, fig))

    async def conference_result(self, actor: User, conference_id: int, unit_id: int | None,
                                lang: str) -> ConferenceResult:
        """The post-conference report (Báo cáo kết quả): every session, the documents, the feedback."""
        conf: Conference = await self.conference.conference(actor, conference_id)
        sessions = await self.conference.store.sessions_of(conference_id)
        data = [await self.session_data(actor, s.id, unit_id) for s in sessions]
        root: Unit = data[0].root if data else await self.conference.report_root(actor, conference_id, unit_id)
        documents = await self.conference.store.documents_of(conference_id)
        openings = {doc: sum(by_unit.values())
                    for doc, by_unit in (await self.conference.store.openings_of(conference_id)).items()}
        feedback = await self.conference.store.feedback_counts(conference_id)
        return build_result(conf, root, data, documents, openings, feedback, await self.conference.all_time_tree(),
                            words(lang), lang, self.zone, self.conference.clock())

    async def audit(self, actor: User, category: AuditCategory | None, username: str, since: datetime | None,
                    until: datetime | None, limit: int, offset: int) -> AuditView:
        """The audit log (administrator only), and the check-ins recorded by hand in the same period."""
        page = await self.conference.audit_view(actor, category, username, since, until, limit, offset)
        operated: list[OperatedCheckIn] = []
        if category in (None, AuditCategory.ATTENDANCE) and offset == 0:
            rows = await self.ledger.operated_checkins(since, until, limit)
            if username.strip():
                wanted = await self.conference.store.user_by_name(username.strip().lower())
                rows = [r for r in rows if wanted is not None and r.operator_user_id == wanted.id]
            users = await self.conference.users_named([r.operator_user_id for r in rows if r.operator_user_id])
            people = await self.conference.store.persons_by_ids(r.person_id for r in rows)
            halls: dict[int, Hall] = {}
            for hall_id in {r.hall_id for r in rows if r.hall_id is not None}:
                halls[hall_id] = await self.conference.store.get_hall(hall_id)
            operated = [OperatedCheckIn(r, users.get(r.operator_user_id or 0), people.get(r.person_id),
                                        halls.get(r.hall_id or 0)) for r in rows]
        return AuditView(page, operated)
