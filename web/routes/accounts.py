"""Accounts over HTTP: sign-in and sign-out, the language switch, the participant's home, `/api/me` (the
signed-in user and the CSRF token a non-browser client's writes carry) and the account's own password
(`/me/password`, `/api/me/password`).

Sign-in and the password change are throttled (web/usecases/guarded.py): 429 with Retry-After, the
sign-in page saying so in the request's language. Sign-out and a password change end every session of
the account (its session version is raised); the session that changed the password carries on.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.accounts import Role
from conference.errors import Invalid, NotAuthenticated
from conference.service import PASSWORD_MIN
from web.bootstrap import services
from web.http.auth import (
    api_user,
    client_address,
    csrf_token,
    current_user,
    optional_user,
    read_form,
    sign_in,
    sign_out,
)
from web.http.decoding import body, field, safe_next, text
from web.http.encoding import ok, see_other
from web.http.templating import render
from web.i18n import LANGUAGES
from web.throttle.rule import Throttled
from web.usecases.member import member_home


async def home(request: Request) -> Response:
    user = await optional_user(request)
    if user is None:
        return see_other("/login")
    return see_other("/me" if user.role is Role.PARTICIPANT else "/conferences")


async def login(request: Request) -> Response:
    if request.method == "GET":
        return await render(request, "login.html", next=safe_next(request.query_params.get("next")))
    form = await read_form(request)
    username, back = text(form, "username"), safe_next(text(form, "next"))
    try:
        user, version = await services(request).guarded.sign_in(username, text(form, "password"),
                                                                 client_address(request))
    except NotAuthenticated:
        return await render(request, "login.html", status_code=401, failed=True, username=username, next=back)
    except Throttled as e:
        page = await render(request, "login.html", status_code=429, throttled=e.retry_after, username=username,
                            next=back)
        page.headers["Retry-After"] = str(e.retry_after)
        return page
    sign_in(request, user, version)
    return see_other(safe_next(text(form, "next"), "/"))


async def logout(request: Request) -> Response:
    """Signs the account out everywhere: every session of it ends, this one and any other."""
    await read_form(request)
    user = await optional_user(request)
    if user is not None:
        await services(request).conference.end_sessions(user)
    sign_out(request)
    return see_other("/login")


async def password_page(request: Request) -> Response:
    """The account's own password: the current one, the new one twice."""
    user = await current_user(request)
    if request.method == "GET":
        return await render(request, "password.html", minimum=PASSWORD_MIN)
    form = await read_form(request)
    new = text(form, "new_password")
    problem, status = None, 200
    if new != text(form, "repeat_password"):
        problem, status = "passwords_differ", 422
    else:
        try:
            version = await services(request).guarded.change_password(user, text(form, "current_password"), new,
                                                                       client_address(request))
        except NotAuthenticated:
            problem, status = "wrong_current_password", 403
        except Invalid:
            problem, status = "password_rule", 422
        except Throttled as e:
            page = await render(request, "password.html", status_code=429, throttled=e.retry_after,
                                minimum=PASSWORD_MIN)
            page.headers["Retry-After"] = str(e.retry_after)
            return page
        else:
            sign_in(request, user, version)
            return await render(request, "password.html", changed=True, minimum=PASSWORD_MIN)
    return await render(request, "password.html", status_code=status, problem=problem, minimum=PASSWORD_MIN)


async def api_password(request: Request) -> JSONResponse:
    """Change the account's own password (`current_password`, `new_password`); every other session of the
    account ends, and this one gets a new CSRF token."""
    user = await api_user(request)
    data = await body(request)
    version = await services(request).guarded.change_password(
        user, field(data, "current_password", str), field(data, "new_password", str), client_address(request))
    sign_in(request, user, version)
    return ok({"user": user, "csrf_token": csrf_token(request)})


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
    svc = services(request)
    items = await member_home(svc.conference, svc.facts, svc.attendance.ledger, user)
    return await render(request, "me.html", items=items)


routes = [
    Route("/", home),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/lang/{lang}", switch_language),
    Route("/me", my_home),
    Route("/me/password", password_page, methods=["GET", "POST"]),
    Route("/api/me", me),
    Route("/api/me/password", api_password, methods=["POST"]),
]
