"""The hall operator's attendance page: search the hall's delegates without diacritics, check them in
by hand, mark absences with a reason, undo a mistake, report a headcount."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.errors import Invalid
from web.bootstrap import services
from web.http.auth import current_user, read_form
from web.http.decoding import number, query_text, text
from web.http.encoding import see_other
from web.http.templating import language, render
from web.usecases.checkin import Actor, ScanRequest

LIST_SIZE = 100


async def hall_action(request: Request) -> Response:
    """One action of the hall clerk: check in by hand, mark absent, undo, report a headcount. Each is the
    check-in use case the API calls (`CheckIns`: the clerk's right at the hall, the hall in the session, the
    audit of absences and undos); the page only decodes the form and flashes the outcome."""
    user = await current_user(request)
    svc = services(request)
    hall_id, session_id = request.path_params["hid"], request.path_params["sid"]
    here = f"/halls/{hall_id}/sessions/{session_id}"
    form = await read_form(request)
    action = text(form, "action")
    if action == "headcount":
        await svc.checkins.headcount(user, session_id, hall_id, number(form, "expected"), number(form, "present"),
                                     number(form, "absent_excused"), number(form, "absent_unexcused"))
        request.session["flash"] = "✔"
        return see_other(here)
    person_id = number(form, "person_id")
    if action == "checkin":
        shown = await svc.checkins.scan(Actor(None, user), ScanRequest(session_id, hall_id, person_id=person_id),
                                        await language(request))
        request.session["flash"] = shown.message
    elif action == "absent":
        await svc.checkins.absence(user, session_id, hall_id, person_id, text(form, "reason"))
        request.session["flash"] = "✔"
    elif action == "undo":
        await svc.checkins.undo(Actor(None, user), session_id, hall_id, person_id)
        request.session["flash"] = "✔"
    else:
        raise Invalid("unknown action", field="action")
    return see_other(f"{here}?q={text(form, 'q')}")


async def hall_page(request: Request) -> Response:
    """The hall's delegates for a session (search without diacritics), their statuses and the hall's totals,
    the figures the dashboard and the reports show."""
    query = query_text(request, "q")
    sheet = await services(request).attendance.hall_sheet(
        await current_user(request), request.path_params["hid"], request.path_params["sid"], query, LIST_SIZE)
    return await render(request, "hall_session.html", hall=sheet.hall, conference=sheet.conference,
                        session=sheet.session, query=query, people=sheet.people,
                        statuses=sheet.attendance.checkins, cards=sheet.cards, figures=sheet.attendance.figures,
                        source=sheet.attendance.source.value, can_check_in=sheet.can_check_in,
                        flash=request.session.pop("flash", None))


async def hall_session(request: Request) -> Response:
    return await (hall_action if request.method == "POST" else hall_page)(request)


routes = [Route("/halls/{hid:int}/sessions/{sid:int}", hall_session, methods=["GET", "POST"])]
