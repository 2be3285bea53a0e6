"""The check-in API: kiosks (bearer token) and hall operators (signed in) record attendance.

Each handler decodes, resolves who is acting for which hall, calls the ledger once, and encodes the
verdict with what a kiosk shows: the person's name and unit, and a one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from attendance.checkins import Method, Outcome
from attendance.devices import Device
from attendance.headcounts import Headcount
from attendance.rules import Scan, Verdict
from conference.accounts import Action, User
from conference.errors import Invalid
from web.bootstrap import Services, services, utc_now
from web.http.auth import api_user, current_device
from web.http.decoding import body, choice, field, moment, path_int, query_int
from web.http.encoding import flat, ok, plain
from web.i18n import verdict_message

UPLOAD_MAX = 5000


@dataclass(frozen=True)
class Actor:
    """Who records: an enrolled kiosk, or a signed-in hall operator."""

    device: Device | None
    user: User | None


async def actor(request: Request) -> Actor:
    if "authorization" in request.headers:
        return Actor(await current_device(request), None)
    return Actor(None, await api_user(request))


async def hall_for(svc: Services, who: Actor, session_id: int, hall_id: int | None) -> int:
    """The hall the actor records for, checked: a kiosk only for its own hall, an operator in scope,
    and the session must belong to the hall's conference."""
    if who.device is not None:
        if hall_id is not None:
            who.device.require_hall(hall_id)
        hall_id = who.device.hall_id
    elif hall_id is None:
        raise Invalid("hall_id is required", field="hall_id")
    else:
        assert who.user is not None
        await svc.conference.hall(who.user, hall_id, Action.CHECK_IN_MANUALLY)
    rules = await svc.facts.session_rules(session_id)
    if await svc.facts.hall_conference(hall_id) != rules.conference_id:
        raise Invalid("this hall is not part of the session's conference", field="hall_id")
    return hall_id


def kiosk_time(data: dict[str, Any]) -> datetime | None:
    return None if data.get("kiosk_time") is None else moment(data, "kiosk_time")


def lang_of(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.headers.get("accept-language", "vi")
    return "en" if wanted.lower().startswith("en") else "vi"


async def decode_scan(svc: Services, who: Actor, data: dict[str, Any], offline: bool
                      ) -> tuple[Scan, str | None, int | None]:
    session_id = field(data, "session_id", int)
    hall_id = await hall_for(svc, who, session_id, field(data, "hall_id", int, None))
    credential = field(data, "credential", str, None)
    person_id = field(data, "person_id", int, None)
    if (credential is None) == (person_id is None):
        raise Invalid("give either credential (the QR text) or person_id", field="credential")
    default = Method.QR if credential is not None else Method.MANUAL
    method = choice(data, "method", Method, default)
    if method in (Method.ONLINE, Method.HEADCOUNT):
        raise Invalid("online and headcount attendance are not recorded through this call", field="method")
    score = field(data, "face_score", float, None) if method is Method.FACE else None
    scan = Scan(session_id, hall_id, method, utc_now(), kiosk_time(data),
                who.device.id if who.device else None, who.user.id if who.user else None,
                field(data, "nonce", str, None), offline, score)
    return scan, credential, person_id


async def answer(request: Request, svc: Services, verdict: Verdict) -> dict[str, Any]:
    """A verdict as the kiosk shows it, in the request's language."""
    return await shown(svc, verdict, lang_of(request))


async def shown(svc: Services, verdict: Verdict, lang: str) -> dict[str, Any]:
    """A verdict as a kiosk shows it: the person's name and unit, and a one-line message."""
    card = None
    if verdict.person_id is not None:
        card = (await svc.facts.cards([verdict.person_id])).get(verdict.person_id)
    params: dict[str, str] = {"name": card.full_name if card else ""}
    checkin = verdict.checkin
    if verdict.outcome is Outcome.REPEAT and checkin is not None:
        params["time"] = checkin.server_time.astimezone(svc.settings.zone).strftime("%H:%M")
        params["hall"] = await svc.facts.hall_name(checkin.hall_id) if checkin.hall_id else ""
    reason = verdict.reason.value if verdict.reason else None
    return {
        "outcome": verdict.outcome.value,
        "reason": reason,
        "message": verdict_message(lang, verdict.outcome.value, reason, **params),
        "person": flat(card) if card else None,
        "checkin": flat(checkin) if checkin else None,
    }


async def check_in(request: Request) -> JSONResponse:
    """One scan (QR text) or manual pick: answered once committed."""
    svc = services(request)
    who = await actor(request)
    scan, credential, person_id = await decode_scan(svc, who, await body(request), offline=False)
    verdict = await svc.ledger.scan(scan, credential, person_id)
    return JSONResponse(await answer(request, svc, verdict))  # already plain: no second walk through ok()


async def upload(request: Request) -> JSONResponse:
    """An offline kiosk's queue of scans: every item recorded (flagged if it broke a rule), idempotent by nonce."""
    svc = services(request)
    who = Actor(await current_device(request), None)
    data = await body(request, limit=UPLOAD_MAX * 600)
    items = field(data, "items", list)
    if len(items) > UPLOAD_MAX:
        raise Invalid(f"at most {UPLOAD_MAX} scans per upload", field="items")
    decoded = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("nonce"), str):
            raise Invalid(f"items[{n}] must be an object with a nonce", field="items")
        try:
            decoded.append(await decode_scan(svc, who, item, offline=True))
        except Invalid as e:
            raise Invalid(f"items[{n}]: {e.message}", field="items") from None
    verdicts = await svc.ledger.upload(decoded)
    return ok({"results": [await answer(request, svc, v) for v in verdicts]})


async def undo(request: Request) -> JSONResponse:
    svc = services(request)
    who = await actor(request)
    data = await body(request)
    session_id = field(data, "session_id", int)
    await hall_for(svc, who, session_id, field(data, "hall_id", int, None))
    undone = await svc.ledger.undo(session_id, field(data, "person_id", int),
                                   who.device.id if who.device else None, who.user.id if who.user else None)
    return ok({"undone": plain(undone)})


async def absence(request: Request) -> JSONResponse:
    """Vắng có lý do (with a reason) or vắng không lý do (without), set by a hall operator."""
    svc = services(request)
    user = await api_user(request)
    data = await body(request)
    session_id = field(data, "session_id", int)
    hall_id = await hall_for(svc, Actor(None, user), session_id, field(data, "hall_id", int))
    checkin = await svc.ledger.mark_absent(session_id, field(data, "person_id", int), hall_id,
                                           field(data, "reason", str, ""), user.id)
    await svc.conference.record_manual_attendance(user, checkin.person_id, f"absent session {session_id}")
    return ok(checkin)


async def headcount(request: Request) -> JSONResponse:
    """A hall that cannot check people in one by one reports its numbers."""
    svc = services(request)
    user = await api_user(request)
    data = await body(request)
    session_id = field(data, "session_id", int)
    hall_id = await hall_for(svc, Actor(None, user), session_id, field(data, "hall_id", int))
    report = Headcount(session_id, hall_id, field(data, "expected", int), field(data, "present", int),
                       field(data, "absent_excused", int, 0), field(data, "absent_unexcused", int, 0), user.id,
                       utc_now())
    await svc.ledger.headcount(report)
    return ok(report)


async def session_checkins(request: Request) -> JSONResponse:
    """A hall's check-ins for a session (staff with attendance rights over the hall)."""
    svc = services(request)
    user = await api_user(request)
    session_id = path_int(request, "sid")
    hall_id = query_int(request, "hall_id", 0)
    hall = await svc.conference.hall(user, hall_id, Action.VIEW_ATTENDANCE)
    rows = [c for c in await svc.ledger.checkins(session_id) if c.hall_id == hall.id]
    return ok(rows)


async def kiosk_bundle(request: Request) -> JSONResponse:
    """What a kiosk keeps to go on checking people in while offline: keys, revocations, its hall's roster."""
    svc = services(request)
    device = await current_device(request)
    session_id = query_int(request, "session_id", 0)
    await hall_for(svc, Actor(device, None), session_id, None)
    rules = await svc.facts.session_rules(session_id)
    invited = [p for p, h in (await svc.facts.invited(rules.conference_id)).items() if h == device.hall_id]
    creds = await svc.credentials.current(invited)
    cards = await svc.facts.cards(invited)
    bundle = await svc.credentials.bundle()
    return ok({
        "session": rules, "hall_id": device.hall_id, "generated_at": bundle.generated_at,
        "public_keys": {str(k): v.hex() for k, v in bundle.public_keys.items()}, "revoked": bundle.revoked,
        "roster": [{"credential_id": creds[p].credential_id, "person_id": p, "full_name": cards[p].full_name,
                    "unit_name": cards[p].unit_name} for p in invited if p in creds and p in cards],
    })


routes = [
    Route("/api/checkins", check_in, methods=["POST"]),
    Route("/api/checkins/upload", upload, methods=["POST"]),
    Route("/api/checkins/undo", undo, methods=["POST"]),
    Route("/api/absences", absence, methods=["POST"]),
    Route("/api/headcounts", headcount, methods=["POST"]),
    Route("/api/sessions/{sid:int}/checkins", session_checkins),
    Route("/api/kiosk/bundle", kiosk_bundle),
]
