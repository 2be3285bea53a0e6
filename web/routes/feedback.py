"""Feedback (ý kiến – đề xuất) over HTTP: members send it, organisers move it on and answer it.

    GET|POST /me/feedback          send feedback (signed or anonymous); one's own, with the answers
    GET|POST /feedback/receipt     an anonymous author reads the answer with their receipt code
    GET      /feedback             the organisers' list, with filters
    GET|POST /feedback/{fid}       one feedback; organisers move it on and answer it
    /api/feedback…                 the same as JSON

Handlers decode, call one service method, encode. Text is shown as text everywhere (Jinja escapes it).
The receipt code of anonymous feedback is shown once, in the page answering the POST, and never put
in a URL, a cookie or a log.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from conference.accounts import Action, User, may
from conference.errors import ConferenceError, Forbidden, NotFound
from conference.feedback import CONTENT_MAX, TRANSITIONS, FeedbackKind, FeedbackState
from conference.service_feedback import FeedbackView
from web.bootstrap import services
from web.http.auth import api_user, client_address, current_user, read_form
from web.http.decoding import (
    body,
    choice,
    field,
    option,
    optional_number,
    path_int,
    query_int,
    query_number,
    query_option,
    text,
)
from web.http.encoding import ok
from web.http.templating import render

PAGE_SIZE = 50
FORM_MAX = 64 * 1024


# -- members -------------------------------------------------------------------------------------------
async def my_feedback(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    error: ConferenceError | None = None
    receipt: str | None = None
    sent: FeedbackView | None = None
    draft = {"kind": "", "content": "", "conference_id": "", "anonymous": ""}
    if request.method == "POST":
        form = await read_form(request, max_part_size=FORM_MAX)
        draft = {k: text(form, k) for k in draft}
        try:
            fb, receipt = await svc.send_feedback(
                user, option(FeedbackKind, draft["kind"] or FeedbackKind.OPINION.value, "kind"), draft["content"],
                optional_number(form, "conference_id"), draft["anonymous"] == "1")
            if receipt is None:
                request.session["flash"] = "fb_sent"
                return RedirectResponse("/me/feedback", status_code=303)
            sent = FeedbackView(fb, "", "", "", "", False)
        except ConferenceError as e:
            error = e
    elif "conference" in request.query_params:  # "Gửi ý kiến" from a conference: that conference chosen
        draft["conference_id"] = request.query_params["conference"]
    conferences = await svc.conferences(user)
    mine = await svc.my_feedback(user)
    flash = request.session.pop("flash", None)
    return await render(request, "my_feedback.html", status_code=422 if error else 200,
                        form_error=refused_field(error, draft, user) if error else None,
                        receipt=receipt, sent=sent, items=mine, conferences=conferences, kinds=list(FeedbackKind),
                        draft=draft if error or request.method == "GET" else {}, content_max=CONTENT_MAX,
                        can_send=user.person_id is not None, flash=flash == "fb_sent")


def refused_field(error: ConferenceError, draft: dict[str, str], user: User) -> tuple[str, str]:
    """The refused field and the key of its words in the page's language (shown beside the field)."""
    if user.person_id is None:
        return "content", "fb_no_roster"
    field = getattr(error, "field", None)
    if field == "content":
        return "content", "fb_error_empty" if not draft["content"].strip() else "fb_error_long"
    if field == "conference_id" or isinstance(error, (Forbidden, NotFound)):
        return "conference_id", "fb_error_conference"
    return "kind", "fb_error_kind"


async def receipt_lookup(request: Request) -> Response:
    """No sign-in needed: the code is the key. Asked by POST, so the code stays out of URLs and logs."""
    found: FeedbackView | None = None
    missing = False
    if request.method == "POST":
        form = await read_form(request)
        try:
            found = await services(request).guarded.receipt(text(form, "code"), client_address(request))
        except ConferenceError:
            missing = True
    return await render(request, "feedback_receipt.html", status_code=404 if missing else 200, found=found,
                        missing=missing)


# -- organisers ----------------------------------------------------------------------------------------
def list_filters(request: Request) -> dict[str, Any]:
    page = max(1, query_int(request, "page", 1))
    return {"unit_id": query_number(request, "unit"),
            "conference_id": query_number(request, "conference"),
            "state": query_option(request, "state", FeedbackState),
            "kind": query_option(request, "kind", FeedbackKind),
            "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}


async def feedback_list(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    wanted = list_filters(request)
    page = await svc.feedback_list(user, **wanted)
    conferences = await svc.conferences(user)
    page_no = wanted["offset"] // PAGE_SIZE + 1
    return await render(request, "feedback_list.html", page=page, wanted=wanted, kinds=list(FeedbackKind),
                        states=list(FeedbackState), conferences=conferences, page_no=page_no,
                        pages=max(1, -(-page.total // PAGE_SIZE)), params=request.query_params)


async def feedback_item(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    fid = path_int(request, "fid")
    error: ConferenceError | None = None
    answer = ""
    if request.method == "POST":
        form = await read_form(request, max_part_size=FORM_MAX)
        answer = text(form, "answer")
        try:
            await svc.move_feedback(user, fid, option(FeedbackState, text(form, "state")
                                                      or FeedbackState.IN_PROGRESS.value, "state"), answer)
            return RedirectResponse(f"/feedback/{fid}", status_code=303)
        except (Forbidden, NotFound):
            raise  # who may not act on it is refused, not shown a form error
        except ConferenceError as e:
            error = e
    view = await svc.feedback_item(user, fid)
    nexts = [s for s in FeedbackState if s in _next_states(view)]
    return await render(request, "feedback_item.html", status_code=422 if error else 200, view=view, error=error,
                        next_states=nexts, answer=answer, content_max=CONTENT_MAX,
                        staff=may(user, Action.MANAGE_FEEDBACK))


def _next_states(view: FeedbackView) -> frozenset[FeedbackState]:
    return TRANSITIONS[view.feedback.state] if view.may_act else frozenset()


# -- JSON ----------------------------------------------------------------------------------------------
def feedback_json(view: FeedbackView, receipt: str | None = None) -> dict[str, Any]:
    fb = view.feedback
    out: dict[str, Any] = {
        "id": fb.id, "kind": fb.kind, "state": fb.state, "content": fb.content, "anonymous": fb.anonymous,
        "author": view.author_name or None, "unit": view.unit_name, "handled_by": view.handler_name,
        "conference_id": fb.conference_id, "conference": view.conference_title or None,
        "created_at": fb.created_at, "answer": fb.answer or None, "answered_at": fb.answered_at,
    }
    if receipt is not None:
        out["receipt"] = receipt
    return out


async def api_feedback(request: Request) -> JSONResponse:
    user: User = await api_user(request)
    svc = services(request).conference
    if request.method == "POST":
        data = await body(request)
        fb, receipt = await svc.send_feedback(user, choice(data, "kind", FeedbackKind),
                                              field(data, "content", str), field(data, "conference_id", int, None),
                                              field(data, "anonymous", bool, False))
        view = FeedbackView(fb, "", "", "", "", False) if receipt else (await svc.feedback_item(user, fb.id))
        return ok(feedback_json(view, receipt), 201)
    page = await svc.feedback_list(user, **list_filters(request))
    return ok({"total": page.total, "items": [feedback_json(v) for v in page.items]})


async def api_my_feedback(request: Request) -> JSONResponse:
    user = await api_user(request)
    return ok([feedback_json(v) for v in await services(request).conference.my_feedback(user)])


async def api_feedback_item(request: Request) -> JSONResponse:
    user = await api_user(request)
    return ok(feedback_json(await services(request).conference.feedback_item(user, path_int(request, "fid"))))


async def api_feedback_state(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request).conference
    data = await body(request)
    fid = path_int(request, "fid")
    await svc.move_feedback(user, fid, choice(data, "state", FeedbackState), field(data, "answer", str, ""))
    return ok(feedback_json(await svc.feedback_item(user, fid)))


async def api_receipt(request: Request) -> JSONResponse:
    data = await body(request)
    view = await services(request).guarded.receipt(field(data, "code", str), client_address(request))
    return ok(feedback_json(view))


routes = [
    Route("/me/feedback", my_feedback, methods=["GET", "POST"]),
    Route("/feedback/receipt", receipt_lookup, methods=["GET", "POST"]),
    Route("/feedback", feedback_list),
    Route("/feedback/{fid:int}", feedback_item, methods=["GET", "POST"]),
    Route("/api/feedback", api_feedback, methods=["GET", "POST"]),
    Route("/api/me/feedback", api_my_feedback),
    Route("/api/feedback/receipt", api_receipt, methods=["POST"]),
    Route("/api/feedback/{fid:int}", api_feedback_item),
    Route("/api/feedback/{fid:int}/state", api_feedback_state, methods=["POST"]),
]
