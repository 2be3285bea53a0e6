"""The hall operator's attendance page: search the hall's delegates without diacritics, check them in
by hand, mark absences with a reason, undo a mistake, report a headcount."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from attendance.checkins import Method
from attendance.headcounts import Headcount
from attendance.rules import Scan
from conference.accounts import Action, User, may
from conference.conferences import Conference, Session
from conference.errors import Invalid
from conference.halls import Hall
from web.bootstrap import services, utc_now
from web.http.auth import current_user, read_form
from web.http.decoding import number, query_text, text
from web.http.encoding import see_other
from web.http.templating import language, render
from web.i18n import verdict_message

LIST_SIZE = 100


async def _hall_and_session(request: Request) -> tuple[User, Hall, Conference, Session]:
    user = await current_user(request)
    svc = services(request)
    hall = await svc.conference.hall(user, request.path_params["hid"], Action.VIEW_ATTENDANCE)
    conf, session = await svc.conference.session(user, request.path_params["sid"])
    if session.conference_id != hall.conference_id:
        raise Invalid("this session belongs to another conference")
    return user, hall, conf, session


async def hall_action(request: Request) -> Response:
    """One action of the hall clerk: check in by hand, mark absent, undo, report a headcount."""
    user, hall, _conf, session = await _hall_and_session(request)
    svc = services(request)
    here = f"/halls/{hall.id}/sessions/{session.id}"
    await svc.conference.hall(user, hall.id, Action.CHECK_IN_MANUALLY)
    form = await read_form(request)
    action = text(form, "action")
    if action == "headcount":
        await svc.ledger.headcount(Headcount(session.id, hall.id, number(form, "expected"),
                                             number(form, "present"), number(form, "absent_excused"),
                                             number(form, "absent_unexcused"), user.id, utc_now()))
        request.session["flash"] = "✔"
        return see_other(here)
    person_id = number(form, "person_id")
    if action == "checkin":
        verdict = await svc.ledger.scan(Scan(session.id, hall.id, Method.MANUAL, utc_now(),
                                             operator_user_id=user.id), person_id=person_id)
        card = (await svc.facts.cards([person_id])).get(person_id)
        params = {"name": card.full_name if card else "", "hall": hall.name,
                  "time": verdict.checkin.server_time.astimezone(svc.settings.zone).strftime("%H:%M")
                  if verdict.checkin else ""}
        request.session["flash"] = verdict_message(await language(request), verdict.outcome.value,
                                                   verdict.reason.value if verdict.reason else None, **params)
    elif action == "absent":
        await svc.ledger.mark_absent(session.id, person_id, hall.id, text(form, "reason"), user.id)
        await svc.conference.record_manual_attendance(user, person_id, f"absent session {session.id}")
        request.session["flash"] = "✔"
    elif action == "undo":
        await svc.ledger.undo(session.id, person_id, None, user.id)
        await svc.conference.record_manual_attendance(user, person_id, f"undo session {session.id}")
        request.session["flash"] = "✔"
    else:
        raise Invalid("unknown action", field="action")
    return see_other(f"{here}?q={text(form, 'q')}")


async def hall_page(request: Request) -> Response:
    """The hall's delegates for a session (search without diacritics), their statuses and the hall's totals."""
    user, hall, conf, session = await _hall_and_session(request)
    svc = services(request)
    query = query_text(request, "q")
    _, people = await svc.conference.hall_invitees(hall.id, query, LIST_SIZE)
    attendance = await svc.reports.attendance.hall(hall, session)  # the figures the dashboard and reports show
    cards = await svc.facts.cards([p.id for p in people])
    return await render(request, "hall_session.html", hall=hall, conference=conf, session=session, query=query,
                        people=people, statuses=attendance.checkins, cards=cards, figures=attendance.figures,
                        source=attendance.source.value, can_check_in=may(user, Action.CHECK_IN_MANUALLY),
                        flash=request.session.pop("flash", None))


async def hall_session(request: Request) -> Response:
    return await (hall_action if request.method == "POST" else hall_page)(request)


routes = [Route("/halls/{hid:int}/sessions/{sid:int}", hall_session, methods=["GET", "POST"])]
