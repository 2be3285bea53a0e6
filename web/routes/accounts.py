"""Accounts over HTTP: sign-in and sign-out, the language switch, the participant's home, and `/api/me`
(the signed-in user and the CSRF token a non-browser client's writes carry)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.accounts import Role
from conference.errors import Invalid, NotAuthenticated
from web.bootstrap import services
from web.http.auth import api_user, csrf_token, current_user, optional_user, read_form, sign_in, sign_out
from web.http.decoding import safe_next, text
from web.http.encoding import ok, see_other
from web.http.templating import render
from web.i18n import LANGUAGES


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


async def me(request: Request) -> JSONResponse:
    """The signed-in user, and the CSRF token their writes must carry as X-CSRF-Token."""
    return ok({"user": await api_user(request), "csrf_token": csrf_token(request)})


async def my_home(request: Request) -> Response:
    user = await current_user(request)
    items = await services(request).conference.my_conferences(user)
    return await render(request, "me.html", items=items)


routes = [
    Route("/", home),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/lang/{lang}", switch_language),
    Route("/me", my_home),
    Route("/api/me", me),
]
