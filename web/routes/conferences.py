"""Conferences over HTTP: the organiser's pages (conferences, one conference with its sessions and halls,
people of a unit, the roster import) and the JSON API for the same records."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.accounts import Action, may
from conference.conferences import Conference, ConferenceMode, Session
from conference.errors import ConferenceError, Forbidden, ImportRefused, Invalid
from conference.halls import Channel, HallRole
from web.bootstrap import services
from web.http.auth import api_user, current_user, read_form
from web.http.decoding import (
    body,
    choice,
    field,
    local_moment,
    moment,
    number,
    option,
    path_int,
    query_int,
    query_text,
    text,
)
from web.http.encoding import ok, see_other
from web.http.templating import language, render
from web.i18n import form_error

PAGE_SIZE = 50
SESSION_TIMES = ("starts_at", "ends_at", "checkin_opens_at", "checkin_closes_at")  # the session edit form's


async def api_conferences(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request).conference
    if request.method == "POST":
        data = await body(request)
        conf = await svc.create_conference(
            user, field(data, "title", str), field(data, "topic", str, ""),
            choice(data, "mode", ConferenceMode, ConferenceMode.PRESENTER), field(data, "organiser_unit_id", int))
        return ok(conf, 201)
    return ok(await svc.conferences(user))


async def api_conference(request: Request) -> JSONResponse:
    return ok(await services(request).conference.conference(await api_user(request), path_int(request, "cid")))


async def api_sessions(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request).conference
    cid = path_int(request, "cid")
    if request.method == "POST":
        data = await body(request)
        session = await svc.add_session(user, cid, field(data, "title", str), moment(data, "starts_at"),
                                        moment(data, "ends_at"), field(data, "late_after_minutes", int, 15))
        return ok(session, 201)
    return ok(await svc.sessions(user, cid))


async def api_session(request: Request) -> JSONResponse:
    """Move a session's times and check-in window (the conference's organisers)."""
    user = await api_user(request)
    data = await body(request)
    opens, closes = (moment(data, name) if name in data else None for name in ("checkin_opens_at", "checkin_closes_at"))
    svc = services(request)
    session = await svc.conference.edit_session(user, path_int(request, "sid"), moment(data, "starts_at"),
                                                moment(data, "ends_at"), opens, closes,
                                                field(data, "late_after_minutes", int, None))
    svc.facts.forget_rules(session.id)
    return ok(session)


async def api_presenters(request: Request) -> JSONResponse:
    """Assign an account to present a session: it may then broadcast it (the conference's organisers)."""
    user = await api_user(request)
    sid, data = path_int(request, "sid"), await body(request)
    presenter = field(data, "user_id", int)
    await services(request).conference.assign_presenter(user, sid, presenter)
    return ok({"session_id": sid, "user_id": presenter}, 201)


async def api_halls(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request).conference
    cid = path_int(request, "cid")
    if request.method == "POST":
        data = await body(request)
        hall = await svc.add_hall(user, cid, field(data, "unit_id", int), field(data, "name", str, ""),
                                  choice(data, "role", HallRole, HallRole.PARTICIPATING),
                                  choice(data, "channel", Channel), field(data, "chair", str, ""),
                                  field(data, "technical_contact", str, ""))
        return ok(hall, 201)
    return ok(await svc.halls(user, cid))


async def api_people(request: Request) -> JSONResponse:
    user = await api_user(request)
    page = await services(request).conference.people(
        user, path_int(request, "uid"), query_text(request, "q"), query_int(request, "limit", 50),
        query_int(request, "offset", 0))
    return ok({"unit": page.unit, "total": page.total, "people": page.people})


async def api_person(request: Request) -> JSONResponse:
    return ok(await services(request).conference.person(await api_user(request), path_int(request, "pid")))


async def conferences(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    error: ConferenceError | None = None
    if request.method == "POST":
        form = await read_form(request)
        try:
            conf = await svc.create_conference(user, text(form, "title"), text(form, "topic"),
                                               option(ConferenceMode, text(form, "mode") or "presenter", "mode"),
                                               user.scope_unit_id or number(form, "organiser_unit_id"))
            return see_other(f"/conferences/{conf.id}")
        except ConferenceError as e:
            error = e
    with_sessions = await svc.my_conferences(user)
    zone = services(request).settings.zone
    return await render(request, "conferences.html", status_code=422 if error else 200,
                        conferences=[c for c, _ in with_sessions], days=conference_days(with_sessions, zone),
                        today=datetime.now(zone).date(),
                        can_manage=may(user, Action.MANAGE_CONFERENCE), modes=list(ConferenceMode), error=error)


def conference_days(with_sessions: list[tuple[Conference, list[Session]]], zone: tzinfo) -> dict[int, list[date]]:
    """Each conference's days in the deployment's zone: every day one of its sessions runs (the list shows
    the first and the last, and "today" when one of them is today)."""
    days: dict[int, list[date]] = {}
    for conf, sessions in with_sessions:
        found: set[date] = set()
        for s in sessions:
            first, last = s.starts_at.astimezone(zone).date(), s.ends_at.astimezone(zone).date()
            found.update(first + timedelta(days=i) for i in range(min((last - first).days, 30) + 1))
        days[conf.id] = sorted(found)
    return days


async def conference(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    cid = path_int(request, "cid")
    error: ConferenceError | None = None
    form: Any = {}
    editing = 0
    if request.method == "POST":
        form = await read_form(request)
        try:
            zone = services(request).settings.zone
            if text(form, "what") == "edit_session":
                editing = number(form, "session_id")
                starts, ends, opens, closes = (local_moment(text(form, name), name, zone) for name in SESSION_TIMES)
                await svc.edit_session(user, editing, starts, ends, opens, closes, number(form, "late_after_minutes"))
                services(request).facts.forget_rules(editing)
                request.session["session_saved"] = editing
            elif text(form, "what") == "session":
                await svc.add_session(user, cid, text(form, "title"),
                                      local_moment(text(form, "starts_at"), "starts_at", zone),
                                      local_moment(text(form, "ends_at"), "ends_at", zone),
                                      number(form, "late_after_minutes"))
            else:
                await svc.add_hall(user, cid, number(form, "unit_id"), text(form, "name"),
                                   option(HallRole, text(form, "role"), "role"),
                                   option(Channel, text(form, "channel"), "channel"),
                                   text(form, "chair"), text(form, "technical_contact"))
            return see_other(f"/conferences/{cid}")
        except ConferenceError as e:
            error = e
    conf = await svc.conference(user, cid)
    halls = await svc.halls(user, cid)
    tree = await svc.tree()
    candidates = await svc.hall_candidates(user, cid)
    sessions = await svc.sessions(user, cid)
    zone = services(request).settings.zone
    can_manage = may(user, Action.MANAGE_CONFERENCE)
    on_form = error is not None and error.code == "invalid" and can_manage  # shown by the form it refuses
    problem = form_error(await language(request), error) if on_form and error is not None else None
    return await render(
        request, "conference.html", status_code=422 if error else 200, conference=conf, candidates=candidates,
        sessions=sessions, halls=halls, unit_names={u.id: u.name for u in tree.walk()},
        expected_total=sum(h.expected_count for h in halls), can_manage=can_manage,
        can_attend=may(user, Action.VIEW_ATTENDANCE), roles=list(HallRole), channels=list(Channel),
        error=None if on_form else error, editing=editing if on_form else 0,
        added=text(form, "what") if on_form and not editing else "", problem=problem,
        kept={k: text(form, k) for k in ("title", "starts_at", "ends_at", "late_after_minutes")} if on_form else {},
        saved=request.session.pop("session_saved", None),
        times={s.id: {name: f"{getattr(s, name).astimezone(zone):%Y-%m-%dT%H:%M}" for name in SESSION_TIMES}
               | ({k: text(form, k) for k in (*SESSION_TIMES, "late_after_minutes")} if s.id == editing else {})
               for s in sessions},
        edit_error=problem if editing else None)


async def people(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    uid = path_int(request, "uid")
    query = query_text(request, "q")
    page_no = max(1, query_int(request, "page", 1))
    page = await svc.people(user, uid, query, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    tree = await svc.tree()
    return await render(request, "people.html", page=page, query=query, page_no=page_no,
                        pages=max(1, -(-page.total // PAGE_SIZE)), path=tree.path(uid), children=tree.children(uid),
                        unit_names={u.id: u.name for u in tree.walk()})


UPLOAD_MAX = 50 * 1024 * 1024


async def roster_import(request: Request) -> Response:
    """Upload one or more roster files (units, persons); refused whole with every bad row listed."""
    user = await current_user(request)
    svc = services(request)
    if not may(user, Action.IMPORT_ROSTER):
        raise Forbidden("this role may not import rosters")
    if request.method == "GET":
        return await render(request, "import.html")
    form = await read_form(request, limit=UPLOAD_MAX)  # declared or chunked, never more is read
    try:
        files = [(f.filename or "roster", await f.read()) for f in form.getlist("files") if isinstance(f, UploadFile)]
    finally:
        await form.close()
    files = [(name, data) for name, data in files if data]
    if not files:
        return await render(request, "import.html", status_code=422, error=Invalid("chọn ít nhất một tệp"))
    try:
        counts = await svc.roster.import_files(files, actor=user)
    except ImportRefused as refused:
        return await render(request, "import.html", status_code=422, problems=refused.problems)
    svc.conference.forget_units()
    return await render(request, "import.html", counts=counts)


routes = [
    Route("/conferences", conferences, methods=["GET", "POST"]),
    Route("/conferences/{cid:int}", conference, methods=["GET", "POST"]),
    Route("/units/{uid:int}/people", people),
    Route("/roster/import", roster_import, methods=["GET", "POST"]),
    Route("/api/conferences", api_conferences, methods=["GET", "POST"]),
    Route("/api/conferences/{cid:int}", api_conference),
    Route("/api/conferences/{cid:int}/sessions", api_sessions, methods=["GET", "POST"]),
    Route("/api/conferences/{cid:int}/halls", api_halls, methods=["GET", "POST"]),
    Route("/api/sessions/{sid:int}", api_session, methods=["PATCH"]),
    Route("/api/sessions/{sid:int}/presenters", api_presenters, methods=["POST"]),
    Route("/api/units/{uid:int}/people", api_people),
    Route("/api/persons/{pid:int}", api_person),
]
