"""Every expected refusal mapped to its answer, once: an HTTP status (JSON under /api, a page elsewhere)
and, on a live-hub connection (`/ws`, docs/PROTOCOL.md), a close code or an `error` frame.

`ANSWERS` is the one table: for each error class its HTTP status and its WebSocket close code. An
error with a close code closes a live connection with it; one without is answered there with an
`error` frame carrying the error's `code` (the same `error` a JSON answer carries), and the connection
stays open. A protocol breach (`ProtocolError`) carries its own close code; an unreachable store is
answered as `Unavailable`.
"""

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
from conference.passwords import PasswordsBusy
from web.http.auth import CsrfRejected
from web.http.templating import render
from web.live.protocol import Close, ProtocolError, TooManyMessages
from web.throttle.rule import Throttled

# error class -> (HTTP status, WebSocket close code; None: an `error` frame, the connection stays open)
ANSWERS: list[tuple[type[Exception], int, Close | None]] = [
    (conference.NotAuthenticated, 401, Close.BAD_AUTH),
    (attendance.DeviceRejected, 401, Close.BAD_AUTH),
    (CsrfRejected, 403, None),
    (conference.Forbidden, 403, None),
    (attendance.WrongHall, 403, None),
    (conference.NotFound, 404, None),
    (attendance.NotFound, 404, None),
    (conference.Conflict, 409, None),
    (attendance.NotCalibrated, 409, None),  # 1:N face check-in before a recorded calibration
    (conference.ImportRefused, 422, None),
    (conference.Invalid, 422, None),
    (attendance.InvalidRecord, 422, None),
    (attendance.EnrolmentRefused, 422, None),
    (Unavailable, 503, Close.TRY_AGAIN),
    (EngineUnavailable, 503, None),
    (PasswordsBusy, 503, None),
    (Throttled, 429, None),  # guessed secrets (web/usecases/guarded.py), with the key's own Retry-After
    (TooManyMessages, 429, Close.TOO_MANY),
]
RETRY = {503: {"Retry-After": "5"}}


def retry_headers(exc: BaseException, status: int) -> dict[str, str]:
    """`Retry-After`: the error's own (`retry_after` seconds), or the status's."""
    seconds = getattr(exc, "retry_after", None)
    return {"Retry-After": str(seconds)} if isinstance(seconds, int) else RETRY.get(status, {})

UNAVAILABLE = "the database is unavailable; try again in a few seconds"


def _answer(exc: BaseException) -> tuple[int, Close | None] | None:
    return next(((status, close) for kind, status, close in ANSWERS if isinstance(exc, kind)), None)


def status_of(exc: Exception) -> int:
    """The HTTP status answering `exc` (400 for an error the table does not name)."""
    answer = _answer(exc)
    return answer[0] if answer is not None else 400


def code_of(exc: BaseException) -> str:
    """The error's code: `error` of a JSON answer, `code` of a live `error` frame."""
    return str(getattr(exc, "code", "error"))


def message_of(exc: BaseException) -> str:
    """The error's message, as every answer (JSON, page, live `error` frame) carries it."""
    return str(getattr(exc, "message", str(exc)))


def close_of(exc: BaseException) -> tuple[Close, str] | None:
    """How a live connection that met `exc` is closed (code, reason); None when the table says it is
    answered with an `error` frame instead (`live_error`), or when `exc` is a bug."""
    if isinstance(exc, ProtocolError):
        return exc.close, exc.message
    if unreachable(exc):
        exc = Unavailable(UNAVAILABLE)
    answer = _answer(exc)
    return (answer[1], message_of(exc)) if answer is not None and answer[1] is not None else None


def live_error(exc: BaseException) -> dict[str, str] | None:
    """The `code` and `message` of the live `error` frame answering `exc`, for an error the table answers
    so (the connection stays open); None for any other."""
    answer = _answer(exc)
    if answer is None or answer[1] is not None:
        return None
    return refusal(exc)


def refusal(exc: BaseException) -> dict[str, str]:
    """The `code` and `message` of the live `error` frame that answers an expected refusal (the connection
    stays open): a kiosk's camera frame or check-in that the rules refused."""
    return {"code": code_of(exc), "message": message_of(exc)}


def payload(exc: Exception) -> dict[str, object]:
    body: dict[str, object] = {"error": code_of(exc), "message": message_of(exc)}
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
        return JSONResponse(payload(exc), status_code=status, headers=retry_headers(exc, status))
    if isinstance(exc, conference.NotAuthenticated):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    key = "error_csrf" if isinstance(exc, CsrfRejected) else f"error_{status}"
    page = await render(request, "error.html", status_code=status, key=key, detail=payload(exc)["message"],
                        signed_in=status != 503)
    page.headers.update(retry_headers(exc, status))
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
    return await domain_error(request, Unavailable(UNAVAILABLE))


HANDLERS = {
    conference.ConferenceError: domain_error,
    attendance.AttendanceError: domain_error,
    Throttled: domain_error,
    HTTPException: http_error,
    **dict.fromkeys(STORE_UNREACHABLE, store_unreachable),
}
