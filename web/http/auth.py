"""Who is asking: a signed-in user (signed session cookie) or an enrolled kiosk (bearer token).

A session cookie carries its account's session version: sign-out, deactivation, a role change or a
password change raise it, and every older cookie of the account is then signed out.

Cookie-authenticated writes need the session's CSRF token: a form field `csrf` or the header
`X-CSRF-Token`. Bearer-authenticated requests carry no ambient credential and need none: a request with
an `Authorization` header is who its token says, never who a cookie says (`CookieSessions` reads no
cookie for it, and sets none).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import Session, SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.types import Receive, Scope, Send

from attendance.devices import Device
from attendance.errors import DeviceRejected
from conference.accounts import User
from conference.errors import Forbidden, Invalid, NotAuthenticated
from web.bootstrap import services
from web.http.decoding import FORM_LIMIT, bounded


class CsrfRejected(Forbidden):
    code = "csrf"


class IdConvertor(IntegerConvertor):
    """`{name:int}` in a route: an id of at most 9 digits, as every id column holds (PostgreSQL INTEGER).

    A longer number matches no route (404) instead of reaching the database as a value it cannot
    bind. Registered here because every module that declares routes imports this one first.
    """

    regex = "[0-9]{1,9}"


register_url_convertor("int", IdConvertor())


class CookieSessions(SessionMiddleware):
    """The signed session cookie, for requests without an `Authorization` header (a kiosk's check-ins, a
    metrics scrape skip the cookie's reading, checking and writing: an empty session, never sent back)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(name == b"authorization" for name, _ in scope["headers"]):
            scope["session"] = Session()
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def csrf_token(conn: HTTPConnection) -> str:
    token = conn.session.get("csrf")
    if not token:
        token = conn.session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def check_csrf(conn: HTTPConnection, supplied: str | None) -> None:
    expected = conn.session.get("csrf")
    if not expected or not supplied or not hmac.compare_digest(str(expected), supplied):
        raise CsrfRejected("missing or wrong CSRF token")


async def form_of(request: Request, max_files: int = 5, max_part_size: int = 1024 * 1024,
                  limit: int = FORM_LIMIT) -> FormData:
    """The request's form, at most `limit` bytes in all (files included, declared or chunked). A body that is
    no form or is too long, and a text field with NUL (which PostgreSQL cannot store), are refused as Invalid."""
    try:
        form = await bounded(request, limit).form(max_files=max_files, max_part_size=max_part_size)
    except HTTPException as e:  # Starlette's answer to a body that does not parse as a form
        raise Invalid(f"the upload is not a valid multipart form: {e.detail}") from None
    for name, value in form.multi_items():
        if isinstance(value, str) and "\x00" in value:
            await form.close()
            raise Invalid(f"{name} must not contain NUL characters", field=name)
    return form


async def read_form(request: Request, max_files: int = 5, max_part_size: int = 1024 * 1024,
                    limit: int = FORM_LIMIT) -> FormData:
    """The request's form (`form_of`), after checking its CSRF token."""
    form = await form_of(request, max_files, max_part_size, limit)
    field = form.get("csrf")
    try:
        check_csrf(request, field if isinstance(field, str) else None)
    except CsrfRejected:
        await form.close()
        raise
    return form


def sign_in(conn: HTTPConnection, user: User, version: int) -> None:
    """A new session for `user`: a fresh CSRF token, and the account's session version, without which the
    cookie is signed out (`optional_user`)."""
    conn.session.clear()
    conn.session["uid"] = user.id
    conn.session["sv"] = version
    csrf_token(conn)
    conn.state.user = user


def sign_out(conn: HTTPConnection) -> None:
    conn.session.clear()


def client_address(conn: HTTPConnection) -> str | None:
    """The client's address, as the throttle counts it: uvicorn's (from X-Forwarded-For behind a trusted
    proxy, when its proxy headers are configured)."""
    return conn.client.host if conn.client else None


async def optional_user(conn: HTTPConnection) -> User | None:
    if "user" in conn.scope.get("state", {}):
        cached: User | None = conn.state.user
        return cached
    uid = conn.session.get("uid")
    user = await services(conn).conference.session_user(uid, conn.session.get("sv")) if isinstance(uid, int) else None
    if user is None and uid is not None:
        conn.session.clear()  # signed out elsewhere, deactivated, another role or password: this session ended
    conn.state.user = user
    return user


async def current_user(conn: HTTPConnection) -> User:
    user = await optional_user(conn)
    if user is None:
        raise NotAuthenticated("sign in first")
    return user


async def api_user(request: Request) -> User:
    """The signed-in user of a JSON request; writes must carry X-CSRF-Token."""
    user = await current_user(request)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_csrf(request, request.headers.get("x-csrf-token"))
    return user


def bearer(conn: HTTPConnection) -> str:
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DeviceRejected("a kiosk request needs `Authorization: Bearer <device token>`")
    return token.strip()


async def current_device(conn: HTTPConnection) -> Device:
    device = await services(conn).devices.authenticate(bearer(conn))
    return device
