"""The JSON API: each handler decodes, calls one service, encodes."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime
from enum import Enum
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conference.accounts import Action
from conference.conferences import ConferenceMode
from conference.errors import Invalid
from conference.halls import Channel, HallRole
from web.auth import api_user, csrf_token, current_device
from web.services import services

BODY_MAX = 64 * 1024


def plain(value: Any) -> Any:
    """Records, enums, dates and collections as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def ok(value: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(plain(value), status_code=status_code)


INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL INTEGER, what every integer column holds


def _no_constant(name: str) -> Any:
    raise Invalid(f"request body has {name}, which is not JSON")


async def body(request: Request, limit: int = BODY_MAX) -> dict[str, Any]:
    if int(request.headers.get("content-length") or 0) > limit:
        raise Invalid(f"request body over {limit} bytes")
    raw = await request.body()
    if len(raw) > limit:
        raise Invalid(f"request body over {limit} bytes")
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


# -- signed-in users -------------------------------------------------------------------------------
async def me(request: Request) -> JSONResponse:
    """The signed-in user, and the CSRF token their writes must carry as X-CSRF-Token."""
    return ok({"user": await api_user(request), "csrf_token": csrf_token(request)})


async def conferences(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request).conference
    if request.method == "POST":
        data = await body(request)
        conf = await svc.create_conference(
            user, field(data, "title", str), field(data, "topic", str, ""),
            choice(data, "mode", ConferenceMode, ConferenceMode.PRESENTER), field(data, "organiser_unit_id", int))
        return ok(conf, 201)
    return ok(await svc.conferences(user))


async def conference(request: Request) -> JSONResponse:
    return ok(await services(request).conference.conference(await api_user(request), path_int(request, "cid")))


async def sessions(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request).conference
    cid = path_int(request, "cid")
    if request.method == "POST":
        data = await body(request)
        session = await svc.add_session(user, cid, field(data, "title", str), moment(data, "starts_at"),
                                        moment(data, "ends_at"), field(data, "late_after_minutes", int, 15))
        return ok(session, 201)
    return ok(await svc.sessions(user, cid))


async def halls(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request).conference
    cid = path_int(request, "cid")
    if request.method == "POST":
        data = await body(request)
        hall = await svc.add_hall(user, cid, field(data, "unit_id", int), field(data, "name", str, ""),
                                  choice(data, "role", HallRole, HallRole.PARTICIPATING),
                                  choice(data, "channel", Channel), field(data, "chair", str, ""),
                                  field(data, "technical_contact", str, ""))
        return ok(hall, 201)
    return ok(await svc.halls(user, cid))


async def people(request: Request) -> JSONResponse:
    user = await api_user(request)
    page = await services(request).conference.people(
        user, path_int(request, "uid"), query_text(request, "q"), query_int(request, "limit", 50),
        query_int(request, "offset", 0))
    return ok({"unit": page.unit, "total": page.total, "people": page.people})


async def person(request: Request) -> JSONResponse:
    return ok(await services(request).conference.person(await api_user(request), path_int(request, "pid")))


# -- kiosk devices ---------------------------------------------------------------------------------
async def enrolment_codes(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request)
    hall = await svc.conference.hall(user, path_int(request, "hid"), Action.MANAGE_DEVICES)
    code, expires = await svc.devices.issue_enrolment_code(hall.id, user.id)
    return ok({"hall_id": hall.id, "code": code, "expires_at": expires}, 201)


async def hall_devices(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request)
    hall = await svc.conference.hall(user, path_int(request, "hid"), Action.MANAGE_DEVICES)
    devices = await svc.devices.devices(hall.id)
    return ok([{k: v for k, v in plain(d).items() if k != "token_hash"} for d in devices])


async def revoke_device(request: Request) -> JSONResponse:
    user = await api_user(request)
    svc = services(request)
    device = await svc.devices.device(path_int(request, "did"))
    await svc.conference.hall(user, device.hall_id, Action.MANAGE_DEVICES)
    await svc.devices.revoke(device.id)
    return ok({"revoked": device.id})


async def enrol(request: Request) -> JSONResponse:
    """A kiosk spends its one-time code; the token it gets back is shown this once."""
    data = await body(request)
    device, token = await services(request).devices.enrol(field(data, "code", str), field(data, "name", str))
    return ok({"device_id": device.id, "hall_id": device.hall_id, "token": token}, 201)


async def kiosk_hall(request: Request) -> JSONResponse:
    device = await current_device(request)
    device.require_hall(path_int(request, "hid"))
    hall, invitees = await services(request).conference.hall_invitees(
        device.hall_id, query_text(request, "q"), query_int(request, "limit", 50))
    return ok({"hall": hall, "device_id": device.id,
               "people": [{"id": p.id, "full_name": p.full_name, "unit_id": p.unit_id} for p in invitees]})


routes = [
    Route("/api/me", me),
    Route("/api/conferences", conferences, methods=["GET", "POST"]),
    Route("/api/conferences/{cid:int}", conference),
    Route("/api/conferences/{cid:int}/sessions", sessions, methods=["GET", "POST"]),
    Route("/api/conferences/{cid:int}/halls", halls, methods=["GET", "POST"]),
    Route("/api/units/{uid:int}/people", people),
    Route("/api/persons/{pid:int}", person),
    Route("/api/halls/{hid:int}/enrolment-codes", enrolment_codes, methods=["POST"]),
    Route("/api/halls/{hid:int}/devices", hall_devices),
    Route("/api/devices/{did:int}/revoke", revoke_device, methods=["POST"]),
    Route("/api/devices/enrol", enrol, methods=["POST"]),
    Route("/api/kiosk/halls/{hid:int}", kiosk_hall),
]
