"""Kiosk devices over HTTP: one-time enrolment codes for a hall, the hall's devices, revoking one, a kiosk
spending its code, and the hall roster a kiosk may read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conference.accounts import Action
from web.bootstrap import services
from web.http.auth import api_user, client_address, current_device
from web.http.decoding import body, field, path_int, query_int, query_number, query_text
from web.http.encoding import ok, plain


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
    await svc.devices.revoke(device.id, user.id)
    return ok({"revoked": device.id})


async def enrol(request: Request) -> JSONResponse:
    """A kiosk spends its one-time code; the token it gets back is shown this once."""
    data = await body(request)
    device, token = await services(request).guarded.enrol(field(data, "code", str), field(data, "name", str),
                                                          client_address(request))
    return ok({"device_id": device.id, "hall_id": device.hall_id, "token": token}, 201)


async def kiosk_hall(request: Request) -> JSONResponse:
    """The kiosk's hall and its invitees found by name, with what tells namesakes apart (`detail`) and, for a
    `session_id` of the hall, when each was checked in (`checked_in_at`, null if not present)."""
    device = await current_device(request)
    device.require_hall(path_int(request, "hid"))
    svc = services(request)
    query, limit = query_text(request, "q"), query_int(request, "limit", 50)
    hall, found = await svc.attendance.kiosk_search(device.hall_id, query, limit, query_number(request, "session_id"))
    return ok({"hall": hall, "device_id": device.id,
               "people": [{"id": p.id, "full_name": p.full_name, "unit_id": p.unit_id, "detail": detail,
                           "checked_in_at": c.server_time if c is not None and c.present else None}
                          for p, detail, c in found]})


routes = [
    Route("/api/halls/{hid:int}/enrolment-codes", enrolment_codes, methods=["POST"]),
    Route("/api/halls/{hid:int}/devices", hall_devices),
    Route("/api/devices/{did:int}/revoke", revoke_device, methods=["POST"]),
    Route("/api/devices/enrol", enrol, methods=["POST"]),
    Route("/api/kiosk/halls/{hid:int}", kiosk_hall),
]
