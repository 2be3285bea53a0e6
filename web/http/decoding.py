"""Decoding requests, one set of helpers for every route: JSON bodies and their fields, path and query
parameters, form fields; every body is `bounded()`, declared or chunked. Every value passes `checked()`:
integers in the stores' range, finite numbers, text without NUL. A value that does not decode raises
`Invalid` naming the field (mapped to 422 once, in `web/http/errors.py`)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, tzinfo
from enum import Enum
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.types import Message

from conference.errors import Invalid

BODY_MAX = 64 * 1024
FORM_LIMIT = 2 * 1024 * 1024  # a page's form without a file; uploads give their own limit
E = TypeVar("E", bound=Enum)


INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL INTEGER, what every integer column holds


def _no_constant(name: str) -> Any:
    raise Invalid(f"request body has {name}, which is not JSON")


def bounded(request: Request, limit: int) -> Request:
    """The same request, its body refused (Invalid) past `limit` bytes however it is sent: a declared
    Content-Length over the limit before a byte is read, a chunked body as soon as it passes the limit, so
    no reader (JSON, form, upload) ever holds or spools more."""
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise Invalid(f"request body over {limit} bytes")
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise Invalid(f"request body over {limit} bytes")
        return message

    return Request(request.scope, receive)


async def body(request: Request, limit: int = BODY_MAX) -> dict[str, Any]:
    raw = await bounded(request, limit).body()
    try:
        data = json.loads(raw or b"{}", parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        raise Invalid("request body is not JSON") from None
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object")
    return data


def checked(value: Any, name: str) -> Any:
    """A decoded value the stores can hold: integers in range, finite numbers, text without NUL."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX:
        raise Invalid(f"{name} is out of range", field=name)
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(f"{name} must be a finite number", field=name)
    if isinstance(value, str) and "\x00" in value:
        raise Invalid(f"{name} must not contain NUL characters", field=name)
    return value


def field(data: dict[str, Any], name: str, kind: type, default: Any = ...) -> Any:
    value = data.get(name, default)
    if value is ...:
        raise Invalid(f"{name} is required", field=name)
    if value is None and default is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise Invalid(f"{name} must be {kind.__name__}", field=name)
    return checked(value, name)


def choice(data: dict[str, Any], name: str, kind: type[Enum], default: Any = ...) -> Any:
    raw = field(data, name, str, default.value if isinstance(default, Enum) else default)
    try:
        return kind(raw)
    except ValueError:
        raise Invalid(f"{name} must be one of {', '.join(e.value for e in kind)}", field=name) from None


def moment(data: dict[str, Any], name: str) -> datetime:
    """An ISO 8601 date and time with its UTC offset, in years 1900 to 2999 (arithmetic on it cannot overflow)."""
    try:
        value = datetime.fromisoformat(field(data, name, str))
    except ValueError:
        raise Invalid(f"{name} must be an ISO 8601 date and time", field=name) from None
    if value.tzinfo is None:
        raise Invalid(f"{name} needs a UTC offset, e.g. 2026-12-01T07:30:00+07:00", field=name)
    if not 1900 <= value.year <= 2999:
        raise Invalid(f"{name} must be in the years 1900 to 2999", field=name)
    return value


def path_int(request: Request, name: str) -> int:
    value: int = request.path_params[name]
    return value


def whole(raw: str, name: str) -> int:
    """A whole number typed as text (a query parameter, a form field), in range."""
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} must be a whole number", field=name) from None
    in_range: int = checked(value, name)
    return in_range


def query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    return default if raw is None else whole(raw, name)


def query_text(request: Request, name: str, default: str = "") -> str:
    """A text query parameter (a search, a code), without NUL."""
    return str(checked(request.query_params.get(name, default), name))


def query_number(request: Request, name: str, low: int = 0, high: int = INT_MAX) -> int | None:
    """An optional whole number in the query string, from `low` to `high` (absent or empty: None)."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    value = whole(raw, name)
    if not low <= value <= high:
        raise Invalid(f"{name} must be {low} to {high}", field=name)
    return value


def query_option(request: Request, name: str, kind: type[E]) -> E | None:
    """An optional one of an enum's values in the query string (absent or empty: None)."""
    raw = request.query_params.get(name, "").strip()
    return option(kind, raw, name) if raw else None


def query_day(request: Request, name: str) -> date | None:
    """An optional day (YYYY-MM-DD) in the query string, in years 1900 to 2999 as `moment`: its bounds in
    any time zone stay in the calendar."""
    return day(request.query_params.get(name, ""), name)


def day(raw: str, name: str) -> date | None:
    """An optional day typed as text (YYYY-MM-DD; empty: None), in years 1900 to 2999."""
    if not raw.strip():
        return None
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD)", field=name) from None
    if not 1900 <= value.year <= 2999:
        raise Invalid(f"{name} must be in the years 1900 to 2999", field=name)
    return value


# -- form fields (pages) ---------------------------------------------------------------------------
def text(form: Any, name: str, default: str = "") -> str:
    """A form field as stripped text ("" when absent or a file), `checked()`."""
    value = form.get(name) if form is not None else None
    return str(checked(value.strip(), name)) if isinstance(value, str) else default


def number(form: Any, name: str) -> int:
    """A required whole number from a form field."""
    raw = text(form, name)
    if not raw:
        raise Invalid(f"{name} must be a whole number", field=name)
    return whole(raw, name)


def optional_number(form: Any, name: str) -> int | None:
    """A whole number from a form field, or None when it is left empty."""
    raw = text(form, name)
    return whole(raw, name) if raw else None


YES = ("1", "true", "yes", "on")


def flag(form: Any, name: str) -> bool:
    """A checkbox or a yes/no form field: true for 1, true, yes or on."""
    return text(form, name).lower() in YES


def option(kind: type[Enum], raw: str, name: str) -> Any:
    """One of an enum's values, typed as text (a form field, a query parameter)."""
    try:
        return kind(raw)
    except ValueError:
        raise Invalid(f"{name} must be one of {', '.join(e.value for e in kind)}", field=name) from None


def local_moment(raw: str, name: str, zone: tzinfo) -> datetime:
    """A `datetime-local` form value, read in the deployment's time zone."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{name}: expected a date and time", field=name) from None
    if not 1900 <= value.year <= 2999:
        raise Invalid(f"{name} must be in the years 1900 to 2999", field=name)
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
