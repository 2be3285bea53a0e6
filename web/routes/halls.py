"""The hall's pages: the halls in the viewer's scope (`/halls`, the hall clerk's and chair's menu), one hall
(`/halls/{id}`: its sessions, kiosks, badges and documents), and the hall clerk's attendance page for a
session: search the hall's delegates without diacritics (namesakes told apart), check them in by hand,
mark absences with or without a reason, undo a mistake, report a headcount. Every action says what it did;
a refused form comes back with its error in the page's language and the input kept."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from attendance.errors import AttendanceError
from conference.errors import ConferenceError, Invalid
from web.bootstrap import services, utc_now
from web.http.auth import current_user, read_form
from web.http.decoding import number, query_text, text
from web.http.encoding import see_other
from web.http.templating import language, render
from web.i18n import form_error, translator
from web.usecases.checkin import Actor, ScanRequest

LIST_SIZE = 100
HEADCOUNT_FIELDS = ("expected", "present", "absent_excused", "absent_unexcused")


async def my_halls(request: Request) -> Response:
    """The halls hosted in the viewer's scope; with just one, that hall's page."""
    halls = await services(request).attendance.my_halls(await current_user(request))
    if len(halls) == 1:
        return see_other(f"/halls/{halls[0][1].id}")
    return await render(request, "halls.html", halls=halls)


async def hall_home(request: Request) -> Response:
    """One hall: its conference's sessions (open for check-in or not), its kiosks, badges and documents."""
    home = await services(request).attendance.hall_home(await current_user(request), request.path_params["hid"],
                                                        utc_now())
    return await render(request, "hall.html", home=home)


async def hall_action(request: Request) -> Response:
    """One action of the hall clerk: check in by hand, mark absent, undo, report a headcount. Each is the
    check-in use case the API calls (`CheckIns`: the clerk's right at the hall, the hall in the session, the
    audit of absences and undos); the page decodes the form and says what was done. A refused headcount or
    an absence without a reason comes back on the page, the input kept."""
    user = await current_user(request)
    svc = services(request)
    hall_id, session_id = request.path_params["hid"], request.path_params["sid"]
    form = await read_form(request)
    action, query = text(form, "action"), text(form, "q")
    t = translator(await language(request))
    try:
        if action == "headcount":
            figures = [number(form, name) for name in HEADCOUNT_FIELDS]
            report = await svc.checkins.headcount(user, session_id, hall_id, *figures)
            request.session["flash"] = t("hall_headcount_saved", present=report.present, expected=report.expected,
                                         excused=report.absent_excused, unexcused=report.absent_unexcused)
            return see_other(f"/halls/{hall_id}/sessions/{session_id}#headcount")
        person_id = number(form, "person_id")
        name = (await svc.facts.cards([person_id])).get(person_id)
        who = name.full_name if name else str(person_id)
        if action == "checkin":
            shown = await svc.checkins.scan(Actor(None, user), ScanRequest(session_id, hall_id, person_id=person_id),
                                            await language(request))
            request.session["flash"] = shown.message
        elif action in ("absent", "absent_unexcused"):
            reason = text(form, "reason").strip() if action == "absent" else ""
            if action == "absent" and not reason:
                raise Invalid("an absence with a reason needs the reason", field="reason")
            await svc.checkins.absence(user, session_id, hall_id, person_id, reason)
            request.session["flash"] = (t("hall_absent_excused_saved", name=who, reason=reason) if reason
                                        else t("hall_absent_unexcused_saved", name=who))
        elif action == "undo":
            await svc.checkins.undo(Actor(None, user), session_id, hall_id, person_id)
            request.session["flash"] = t("hall_undone", name=who)
        else:
            raise Invalid("unknown action", field="action")
    except (ConferenceError, AttendanceError) as refused:
        if getattr(refused, "code", "") != "invalid" or action not in ("headcount", "absent"):
            raise
        return await hall_page(request, refused=form_error(await language(request), refused), form=form)
    return see_other(f"/halls/{hall_id}/sessions/{session_id}?q={query}")


async def hall_page(request: Request, refused: str | None = None, form: Any = None) -> Response:
    """The hall's delegates for a session (search without diacritics; how many of how many), their statuses
    and the hall's totals, the figures the dashboard and the reports show, and its last headcount."""
    query = text(form, "q") if form is not None else query_text(request, "q")
    sheet = await services(request).attendance.hall_sheet(
        await current_user(request), request.path_params["hid"], request.path_params["sid"], query, LIST_SIZE)
    kept = {k: text(form, k) for k in (*HEADCOUNT_FIELDS, "person_id", "reason", "action")} if form else {}
    return await render(request, "hall_session.html", status_code=422 if refused else 200, sheet=sheet,
                        hall=sheet.hall, conference=sheet.conference, session=sheet.session, query=query,
                        people=sheet.people, statuses=sheet.attendance.checkins, figures=sheet.attendance.figures,
                        source=sheet.attendance.source.value, can_check_in=sheet.can_check_in,
                        flash=request.session.pop("flash", None), refused=refused, kept=kept)


async def hall_session(request: Request) -> Response:
    return await (hall_action if request.method == "POST" else hall_page)(request)


routes = [
    Route("/halls", my_halls),
    Route("/halls/{hid:int}", hall_home),
    Route("/halls/{hid:int}/sessions/{sid:int}", hall_session, methods=["GET", "POST"]),
]
