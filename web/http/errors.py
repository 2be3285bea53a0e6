"""Every expected refusal mapped to a response, once: JSON under /api, a page elsewhere."""

from __future__ import annotations

import logging
import time

from asyncpg.exceptions import InterfaceError as PgInterfaceError
from asyncpg.exceptions import OperatorInterventionError, PostgresConnectionError
from sqlalchemy.exc import DBAPIError, ProgrammingError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from attendance import errors as attendance
from attendance.face_engine import EngineUnavailable
from attendance.ledger import Unavailable, refused
from conference import errors as conference
from web.http.auth import CsrfRejected
from web.http.templating import render

STATUS: list[tuple[type[Exception], int]] = [
    (conference.NotAuthenticated, 401),
    (attendance.DeviceRejected, 401),
    (CsrfRejected, 403),
    (conference.Forbidden, 403),
    (attendance.WrongHall, 403),
    (conference.NotFound, 404),
    (attendance.NotFound, 404),
    (conference.Conflict, 409),
    (conference.ImportRefused, 422),
    (conference.Invalid, 422),
    (attendance.InvalidRecord, 422),
    (attendance.EnrolmentRefused, 422),
    (Unavailable, 503),
    (EngineUnavailable, 503),
]
RETRY = {503: {"Retry-After": "5"}}


def status_of(exc: Exception) -> int:
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 400)


def payload(exc: Exception) -> dict[str, object]:
    body: dict[str, object] = {"error": getattr(exc, "code", "error"), "message": getattr(exc, "message", str(exc))}
    if getattr(exc, "field", None):
        body["field"] = exc.field  # type: ignore[attr-defined]
    if isinstance(exc, conference.ImportRefused):
        body["problems"] = [{"sheet": p.sheet, "row": p.row, "column": p.column, "message": p.message}
                            for p in exc.problems]
    return body


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def domain_error(request: Request, exc: Exception) -> Response:
    status = status_of(exc)
    if wants_json(request):
        return JSONResponse(payload(exc), status_code=status, headers=RETRY.get(status))
    if isinstance(exc, conference.NotAuthenticated):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    key = "error_csrf" if isinstance(exc, CsrfRejected) else f"error_{status}"
    page = await render(request, "error.html", status_code=status, key=key, detail=payload(exc)["message"],
                        signed_in=status != 503)
    page.headers.update(RETRY.get(status, {}))
    return page


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request) or exc.status_code not in (401, 403, 404, 409, 422):
        return JSONResponse({"error": "http", "message": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)
    return await render(request, "error.html", status_code=exc.status_code, key=f"error_{exc.status_code}",
                        detail=exc.detail)


log = logging.getLogger(__name__)

# The store could not be reached (down, restarting, failing over, busy): whatever was asked was not
# done, and the same request a little later will be. PostgreSQL's driver raises some of these itself
# while connecting (`the database system is shutting down`), SQLAlchemy wraps the others.
STORE_UNREACHABLE: tuple[type[Exception], ...] = (DBAPIError, ConnectionError, TimeoutError, PostgresConnectionError,
                                                  OperatorInterventionError, PgInterfaceError)
_last_store_warning = 0.0  # monotonic time of the last warning


def unreachable(exc: BaseException) -> bool:
    """The store could not be reached; what it refuses (the ledger's `refused`) or a wrong statement is a bug."""
    return isinstance(exc, STORE_UNREACHABLE) and not refused(exc) and not isinstance(exc, ProgrammingError)


def warn_unreachable(exc: BaseException, answer: str) -> None:
    global _last_store_warning
    if time.monotonic() - _last_store_warning > 5:  # once per outage, not once per request
        _last_store_warning = time.monotonic()
        log.warning("the database is unreachable (%s: %s): %s", type(exc).__name__, exc, answer)


async def store_unreachable(request: Request, exc: Exception) -> Response:
    """503 with Retry-After (kiosks and browsers retry); what the store refuses is a bug and stays a 500."""
    if not unreachable(exc):
        raise exc
    warn_unreachable(exc, "answering 503")
    return await domain_error(request, Unavailable("the database is unavailable; try again in a few seconds"))


HANDLERS = {
    conference.ConferenceError: domain_error,
    attendance.AttendanceError: domain_error,
    HTTPException: http_error,
    **dict.fromkeys(STORE_UNREACHABLE, store_unreachable),
}
