"""The check-in API: kiosks (bearer token) and hall operators (signed in) record attendance.

Each handler decodes the request into plain values, calls one use case of `CheckIns`
(`web/usecases/checkin.py`: who records for which hall, the scan rules, the audit) and encodes the answer.
A verdict is answered as a kiosk shows it: the person's name and unit, and a one-line message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from attendance.checkins import Method
from conference.errors import Invalid
from web.bootstrap import services
from web.http.auth import api_user, current_device
from web.http.decoding import body, choice, field, moment, path_int, query_int
from web.http.encoding import Answer, ok, plain, verdict_json
from web.usecases.checkin import Actor, ScanRequest

UPLOAD_MAX = 5000


async def actor(request: Request) -> Actor:
    """A kiosk when the request carries a bearer token, else the signed-in user."""
    if "authorization" in request.headers:
        return Actor(await current_device(request), None)
    return Actor(None, await api_user(request))


def kiosk_time(data: dict[str, Any]) -> datetime | None:
    return None if data.get("kiosk_time") is None else moment(data, "kiosk_time")


def lang_of(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.headers.get("accept-language", "vi")
    return "en" if wanted.lower().startswith("en") else "vi"


def scan_request(data: dict[str, Any]) -> ScanRequest:
    """One scan's fields, decoded (the rules about them are the use case's)."""
    return ScanRequest(
        field(data, "session_id", int), field(data, "hall_id", int, None), field(data, "credential", str, None),
        field(data, "person_id", int, None), choice(data, "method", Method) if "method" in data else None,
        field(data, "face_score", float, None), field(data, "nonce", str, None), kiosk_time(data),
        field(data, "face_decision", str, None))


async def check_in(request: Request) -> JSONResponse:
    """One scan (QR text) or manual pick: answered once committed."""
    svc = services(request)
    who = await actor(request)
    shown = await svc.checkins.scan(who, scan_request(await body(request)), lang_of(request))
    return Answer(verdict_json(shown))  # already plain: no second walk through ok()


async def upload(request: Request) -> JSONResponse:
    """An offline kiosk's queue of scans: every item recorded (flagged if it broke a rule), idempotent by nonce."""
    svc = services(request)
    who = Actor(await current_device(request), None)
    data = await body(request, limit=UPLOAD_MAX * 600)
    items = field(data, "items", list)
    if len(items) > UPLOAD_MAX:
        raise Invalid(f"at most {UPLOAD_MAX} scans per upload", field="items")
    prepared = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("nonce"), str):
            raise Invalid(f"items[{n}] must be an object with a nonce", field="items")
        try:
            prepared.append(await svc.checkins.prepare(who, scan_request(item), offline=True))
        except Invalid as e:
            raise Invalid(f"items[{n}]: {e.message}", field="items") from None
    shown = await svc.checkins.upload(prepared, lang_of(request))
    return ok({"results": [verdict_json(s) for s in shown]})


async def undo(request: Request) -> JSONResponse:
    """Take back a mistaken check-in: its own kiosk or operator, within minutes (audited)."""
    svc = services(request)
    who = await actor(request)
    data = await body(request)
    undone = await svc.checkins.undo(who, field(data, "session_id", int), field(data, "hall_id", int, None),
                                     field(data, "person_id", int))
    return ok({"undone": plain(undone)})


async def absence(request: Request) -> JSONResponse:
    """Vắng có lý do (with a reason) or vắng không lý do (without), set by a hall operator (audited)."""
    svc = services(request)
    user = await api_user(request)
    data = await body(request)
    checkin = await svc.checkins.absence(user, field(data, "session_id", int), field(data, "hall_id", int),
                                         field(data, "person_id", int), field(data, "reason", str, ""))
    return ok(checkin)


async def headcount(request: Request) -> JSONResponse:
    """A hall that cannot check people in one by one reports its numbers."""
    svc = services(request)
    user = await api_user(request)
    data = await body(request)
    report = await svc.checkins.headcount(
        user, field(data, "session_id", int), field(data, "hall_id", int), field(data, "expected", int),
        field(data, "present", int), field(data, "absent_excused", int, 0), field(data, "absent_unexcused", int, 0))
    return ok(report)


async def session_checkins(request: Request) -> JSONResponse:
    """A hall's check-ins for a session (staff with attendance rights over the hall)."""
    svc = services(request)
    user = await api_user(request)
    return ok(await svc.checkins.hall_checkins(user, path_int(request, "sid"), query_int(request, "hall_id", 0)))


async def kiosk_bundle(request: Request) -> JSONResponse:
    """What a kiosk keeps to go on checking people in while offline: keys, revocations, its hall's roster."""
    svc = services(request)
    device = await current_device(request)
    return ok(await svc.checkins.bundle(device, query_int(request, "session_id", 0)))


routes = [
    Route("/api/checkins", check_in, methods=["POST"]),
    Route("/api/checkins/upload", upload, methods=["POST"]),
    Route("/api/checkins/undo", undo, methods=["POST"]),
    Route("/api/absences", absence, methods=["POST"]),
    Route("/api/headcounts", headcount, methods=["POST"]),
    Route("/api/sessions/{sid:int}/checkins", session_checkins),
    Route("/api/kiosk/bundle", kiosk_bundle),
]
