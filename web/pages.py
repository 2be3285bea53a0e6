"""The HTML pages: sign-in, organiser pages, the participant's home. Decode, call one service, render."""

from __future__ import annotations

from datetime import datetime

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference.accounts import Action, Role, may
from conference.conferences import ConferenceMode
from conference.errors import ConferenceError, Forbidden, ImportRefused, Invalid, NotAuthenticated
from conference.halls import Channel, HallRole
from web.auth import current_user, optional_user, read_form, sign_in, sign_out
from web.i18n import LANGUAGES
from web.services import services
from web.templating import render

PAGE_SIZE = 50


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def text(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value.strip() if isinstance(value, str) else ""


def number(form: object, name: str) -> int:
    try:
        return int(text(form, name))
    except ValueError:
        raise Invalid(f"{name} must be a whole number", field=name) from None


def local_moment(request: Request, raw: str, name: str) -> datetime:
    """A `datetime-local` form value, read in the deployment's time zone."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{name}: expected a date and time", field=name) from None
    return value.replace(tzinfo=services(request).settings.zone) if value.tzinfo is None else value


async def home(request: Request) -> Response:
    user = await optional_user(request)
    if user is None:
        return see_other("/login")
    return see_other("/me" if user.role is Role.PARTICIPANT else "/conferences")


async def login(request: Request) -> Response:
    if request.method == "GET":
        return await render(request, "login.html", next=safe_next(request.query_params.get("next")))
    form = await read_form(request)
    try:
        user = await services(request).conference.authenticate(text(form, "username"), text(form, "password"))
    except NotAuthenticated:
        return await render(request, "login.html", status_code=401, failed=True, username=text(form, "username"),
                            next=safe_next(text(form, "next")))
    sign_in(request, user)
    return see_other(safe_next(text(form, "next"), "/"))


async def logout(request: Request) -> Response:
    await read_form(request)
    sign_out(request)
    return see_other("/login")


async def switch_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    if lang not in LANGUAGES:
        raise Invalid("language is vi or en")
    response = see_other(safe_next(request.query_params.get("next")))
    response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    user = await optional_user(request)
    if user is not None:
        await services(request).conference.set_language(user, lang)
    return response


async def conferences(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    error: ConferenceError | None = None
    if request.method == "POST":
        form = await read_form(request)
        try:
            conf = await svc.create_conference(user, text(form, "title"), text(form, "topic"),
                                               ConferenceMode(text(form, "mode") or "presenter"),
                                               user.scope_unit_id or number(form, "organiser_unit_id"))
            return see_other(f"/conferences/{conf.id}")
        except (ConferenceError, ValueError) as e:
            error = e if isinstance(e, ConferenceError) else Invalid(str(e))
    items = await svc.conferences(user)
    return await render(request, "conferences.html", status_code=422 if error else 200, conferences=items,
                        can_manage=may(user, Action.MANAGE_CONFERENCE), modes=list(ConferenceMode), error=error)


async def conference(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    cid = request.path_params["cid"]
    error: ConferenceError | None = None
    if request.method == "POST":
        form = await read_form(request)
        try:
            if text(form, "what") == "session":
                await svc.add_session(user, cid, text(form, "title"),
                                      local_moment(request, text(form, "starts_at"), "starts_at"),
                                      local_moment(request, text(form, "ends_at"), "ends_at"),
                                      number(form, "late_after_minutes"))
            else:
                await svc.add_hall(user, cid, number(form, "unit_id"), text(form, "name"),
                                   HallRole(text(form, "role")), Channel(text(form, "channel")),
                                   text(form, "chair"), text(form, "technical_contact"))
            return see_other(f"/conferences/{cid}")
        except (ConferenceError, ValueError) as e:
            error = e if isinstance(e, ConferenceError) else Invalid(str(e))
    conf = await svc.conference(user, cid)
    halls = await svc.halls(user, cid)
    tree = await svc.tree()
    hosted = {h.unit_id for h in await svc.store.halls_of(cid)}
    root = user.scope_unit_id
    candidates = [u for u in (tree.walk(root) if root is not None else tree.walk()) if u.id not in hosted]
    return await render(
        request, "conference.html", status_code=422 if error else 200, conference=conf, candidates=candidates,
        sessions=await svc.sessions(user, cid), halls=halls, unit_names={u.id: u.name for u in tree.walk()},
        expected_total=sum(h.expected_count for h in halls), can_manage=may(user, Action.MANAGE_CONFERENCE),
        can_attend=may(user, Action.VIEW_ATTENDANCE), roles=list(HallRole), channels=list(Channel), error=error)


async def people(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    uid = request.path_params["uid"]
    query = request.query_params.get("q", "")
    page_no = max(1, int(request.query_params.get("page", "1") or 1))
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
    if int(request.headers.get("content-length") or 0) > UPLOAD_MAX:
        raise Invalid(f"files over {UPLOAD_MAX // (1024 * 1024)} MB are refused")
    form = await read_form(request)
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


async def my_home(request: Request) -> Response:
    user = await current_user(request)
    items = await services(request).conference.my_conferences(user)
    return await render(request, "me.html", items=items)


routes = [
    Route("/", home),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/lang/{lang}", switch_language),
    Route("/conferences", conferences, methods=["GET", "POST"]),
    Route("/conferences/{cid:int}", conference, methods=["GET", "POST"]),
    Route("/units/{uid:int}/people", people),
    Route("/roster/import", roster_import, methods=["GET", "POST"]),
    Route("/me", my_home),
]
