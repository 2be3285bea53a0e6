"""Reports over HTTP. Decode the filters, call one use case (web/usecases/reports.py), encode as a page, a file
or JSON. Every file holds exactly the tables the page shows.

    GET /sessions/{sid}/report[.xlsx|.pdf]      the session report (filters in the query string)
    GET /api/sessions/{sid}/report              the same tables as JSON
    GET /conferences/{cid}/result[.xlsx|.pdf]   the post-conference report (Báo cáo kết quả)
    GET /audit, GET /api/audit                  the audit log, for the administrator

Reports with names in them (absentees) are never cached, and showing or exporting them is logged.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from attendance.counting import Source
from conference.accounts import User
from conference.audit import AuditCategory
from conference.halls import Channel
from conference.text import format_datetime
from conference.units import Unit, UnitTree
from web.bootstrap import services
from web.http.auth import api_user, current_user
from web.http.decoding import query_day, query_number, query_option
from web.http.encoding import ok
from web.http.templating import language, render
from web.i18n import MESSAGES, translator
from web.render.files import Formal, Heading, formal_pdf, pdf, xlsx
from web.reporting.model import Absence, Filters, Kind, display, table_json
from web.reporting.result import ConferenceResult
from web.usecases.reports import SessionReport

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PRIVATE = {"Cache-Control": "no-store, private"}
AUDIT_PAGE = 100


def filters_of(request: Request) -> tuple[int | None, Filters]:
    """The report's unit and filters from the query string; a bad value names its field."""
    return query_number(request, "unit", 1), Filters(
        level=query_number(request, "level", 0, 3), channel=query_option(request, "channel", Channel),
        source=query_option(request, "source", Source), absence=query_option(request, "absence", Absence),
        depth=query_number(request, "depth", 0, 10), pending=query_number(request, "pending", 0, 1) == 1)


def _filter_line(filters: Filters, lang: str) -> str:
    t = translator(lang)
    parts = []
    if filters.level is not None:
        parts.append(t(f"rep_level_{filters.level}"))
    if filters.channel is not None:
        parts.append(t(f"channel_{filters.channel.value}"))
    if filters.source is not None:
        parts.append(t(f"rep_source_{filters.source}"))
    if filters.absence is not None:
        parts.append(t(f"status_{filters.absence}") if filters.absence != "pending" else t("rep_pending"))
    if filters.depth is not None:
        parts.append(t("rep_depth_n", n=filters.depth))
    if filters.pending:
        parts.append(t("rep_list_pending"))
    return t("rep_filters_line", filters=", ".join(parts)) if parts else ""


def visible_path(user: User, unit: Unit, tree: UnitTree) -> list[Unit]:
    """The breadcrumb: from the top the user may see down to the report's unit."""
    path = tree.path(unit.id)
    ids = [u.id for u in path]
    if user.scope_unit_id in ids:
        path = path[ids.index(user.scope_unit_id):]
    return path


def heading_of(request: Request, user: User, report: SessionReport, filters: Filters, lang: str) -> Heading:
    t = translator(lang)
    zone = services(request).settings.zone
    data = report.data
    session = data.session
    day = session.starts_at.astimezone(zone).date()
    lines = [
        data.conference.title,
        t("rep_session_line", session=session.title, start=format_datetime(session.starts_at, zone),
          end=format_datetime(session.ends_at, zone)),
        t("rep_unit_line", unit=" › ".join(u.name for u in data.tree.path(data.root.id))),
        t("rep_tree_line", day=day.strftime("%d/%m/%Y")),
    ]
    if line := _filter_line(filters, lang):
        lines.append(line)
    made = t("rep_made", at=format_datetime(data.now, zone), by=user.display_name)
    if data.now < session.ends_at:  # figures still moving: a report made before the end is provisional
        lines.insert(0, t("rep_provisional_line", end=format_datetime(session.ends_at, zone)))
        return Heading(f"{t('rep_title')} ({t('rep_provisional')})", lines, made, lang)
    return Heading(t("rep_title"), lines, made, lang)


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', **PRIVATE})


# -- the session report ----------------------------------------------------------------------------
async def session_report(request: Request) -> Response:
    user = await current_user(request)
    lang = await language(request)
    unit_id, filters = filters_of(request)
    report = await services(request).reports.session_report(user, request.path_params["sid"], unit_id, filters, lang)
    data = report.data
    query = request.url.query
    response = await render(
        request, "report.html", report=report, data=data, filters=filters, query=f"?{query}" if query else "",
        path=visible_path(user, data.root, data.tree), children=data.tree.children(data.root.id),
        heading=heading_of(request, user, report, filters, lang), channels=list(Channel), absences=list(Absence),
        cell=lambda value, kind: display(value, kind, lang), Kind=Kind)
    response.headers.update(PRIVATE)
    return response


async def _session_file(request: Request, kind: str) -> tuple[User, SessionReport, Heading]:
    user = await current_user(request)
    lang = await language(request)
    unit_id, filters = filters_of(request)
    report = await services(request).reports.session_report(user, request.path_params["sid"], unit_id, filters, lang,
                                                   export=kind)
    return user, report, heading_of(request, user, report, filters, lang)


async def session_report_xlsx(request: Request) -> Response:
    _, report, heading = await _session_file(request, "xlsx")
    content = await asyncio.to_thread(xlsx, heading, report.tables)
    return _download(content, XLSX_TYPE, f"bao-cao-diem-danh-phien-{report.data.session.id}.xlsx")


async def session_report_pdf(request: Request) -> Response:
    _, report, heading = await _session_file(request, "pdf")
    footer = translator(heading.lang)("rep_page")
    content = await asyncio.to_thread(pdf, heading, report.tables, services(request).settings.pdf_font_dir, footer)
    return _download(content, "application/pdf", f"bao-cao-diem-danh-phien-{report.data.session.id}.pdf")


async def session_report_api(request: Request) -> JSONResponse:
    user = await api_user(request)
    lang = "en" if request.query_params.get("lang") == "en" else "vi"
    unit_id, filters = filters_of(request)
    report = await services(request).reports.session_report(user, request.path_params["sid"], unit_id, filters, lang,
                                                   export="json")
    data = report.data
    body: dict[str, Any] = {
        "conference": {"id": data.conference.id, "title": data.conference.title},
        "session": {"id": data.session.id, "title": data.session.title, "starts_at": data.session.starts_at},
        "unit": {"id": data.root.id, "name": data.root.name},
        "tree_as_of": data.session.starts_at.astimezone(services(request).settings.zone).date(),
        "summary": report.summary,
        "tables": [table_json(t) for t in report.tables],
    }
    response = ok(body)
    response.headers.update(PRIVATE)
    return response


# -- the post-conference report (Báo cáo kết quả) -------------------------------------------------------
def formal_of(result: ConferenceResult) -> Formal:
    t = translator(result.lang)
    return Formal(
        issuer=[result.organiser_name.upper(), t("res_issuer")],
        motto=[t("res_party"), result.paragraphs[0]],
        title=[t("res_title"), result.conference.title],
        paragraphs=result.paragraphs[1:],
        signature=[t("res_sign_for"), t("res_sign_hint")],
        lang=result.lang,
    )


async def _result(request: Request) -> ConferenceResult:
    user = await current_user(request)
    lang = await language(request)
    return await services(request).reports.conference_result(user, request.path_params["cid"],
                                                             query_number(request, "unit", 1), lang)


async def conference_result(request: Request) -> Response:
    result = await _result(request)
    lang = result.lang
    return await render(request, "result.html", result=result, formal=formal_of(result),
                        cell=lambda value, kind: display(value, kind, lang), Kind=Kind)


async def conference_result_pdf(request: Request) -> Response:
    result = await _result(request)
    footer = translator(result.lang)("rep_page")
    content = await asyncio.to_thread(formal_pdf, formal_of(result), result.tables,
                                      services(request).settings.pdf_font_dir, footer)
    return _download(content, "application/pdf", f"bao-cao-ket-qua-hoi-nghi-{result.conference.id}.pdf")


async def conference_result_xlsx(request: Request) -> Response:
    result = await _result(request)
    t = translator(result.lang)
    heading = Heading(t("res_title"), [result.conference.title, *result.paragraphs], "", result.lang)
    content = await asyncio.to_thread(xlsx, heading, result.tables)
    return _download(content, XLSX_TYPE, f"bao-cao-ket-qua-hoi-nghi-{result.conference.id}.xlsx")


# -- the audit log ----------------------------------------------------------------------------------
def audit_filters(request: Request) -> dict[str, Any]:
    zone = services(request).settings.zone
    since, until = query_day(request, "from"), query_day(request, "to")
    page = query_number(request, "page", 1) or 1
    return {"category": query_option(request, "category", AuditCategory),
            "username": request.query_params.get("user", "")[:64],
            "since": datetime.combine(since, time(), zone) if since else None,
            "until": datetime.combine(until + timedelta(days=1), time(), zone) if until else None,
            "limit": AUDIT_PAGE, "offset": (page - 1) * AUDIT_PAGE}


async def audit(request: Request) -> Response:
    user = await current_user(request)
    wanted = audit_filters(request)
    view = await services(request).reports.audit(user, **wanted)
    page_no = wanted["offset"] // AUDIT_PAGE + 1
    t = translator(await language(request))

    def action_label(action: str) -> str:
        """An action's words; one added later without words shows as it is stored."""
        return t(f"audit_action_{action}") if f"audit_action_{action}" in MESSAGES else action

    response = await render(request, "audit.html", view=view, categories=list(AuditCategory), page_no=page_no,
                            pages=max(1, -(-view.page.total // AUDIT_PAGE)), params=request.query_params,
                            action_label=action_label)
    response.headers.update(PRIVATE)
    return response


async def audit_api(request: Request) -> JSONResponse:
    user = await api_user(request)
    view = await services(request).reports.audit(user, **audit_filters(request))
    users = view.page.users
    response = ok({
        "total": view.page.total,
        "entries": [{"id": i, "at": e.at, "action": e.action, "subject": e.subject, "detail": e.detail,
                     "actor": users[e.actor_user_id].username if e.actor_user_id in users else None,
                     "device_id": e.device_id} for i, e in view.page.entries],
        "manual_attendance": [{"at": o.checkin.server_time, "session_id": o.checkin.session_id,
                               "person_id": o.checkin.person_id, "status": o.checkin.status,
                               "method": o.checkin.method, "hall_id": o.checkin.hall_id,
                               "operator": o.operator.username if o.operator else None} for o in view.operated],
    })
    response.headers.update(PRIVATE)
    return response


routes = [
    Route("/sessions/{sid:int}/report", session_report),
    Route("/sessions/{sid:int}/report.xlsx", session_report_xlsx),
    Route("/sessions/{sid:int}/report.pdf", session_report_pdf),
    Route("/api/sessions/{sid:int}/report", session_report_api),
    Route("/conferences/{cid:int}/result", conference_result),
    Route("/conferences/{cid:int}/result.pdf", conference_result_pdf),
    Route("/conferences/{cid:int}/result.xlsx", conference_result_xlsx),
    Route("/audit", audit),
    Route("/api/audit", audit_api),
]
