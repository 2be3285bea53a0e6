"""The OpenAPI 3.1 document of the JSON API, served at /api/openapi.json, and its documentation page
/api/docs (Swagger UI, vendored under web/static/vendor, served from here: public like the document).

The operations are written out here: it is the contract kiosks and other clients build on. The records
an answer carries (a conference, a hall, a check-in, an account) are described by `schemas.record`
from the records themselves, as `encoding.plain` writes them; tests/test_fuzz_api.py checks every
typed answer against its schema (schemathesis).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from attendance.checkins import Method, Outcome, Refusal
from attendance.devices import Device
from attendance.face_detection import Box
from attendance.faces import Consent
from attendance.headcounts import Headcount
from conference.conferences import Conference, Session
from conference.halls import Hall
from conference.people import Person
from conference.units import Unit
from web.http.openapi_content import CHECKIN, USER, account_paths, content_paths
from web.http.schemas import (
    INT,
    OBJ,
    STR,
    TIME,
    Schema,
    array,
    obj,
    op,
    path_param,
    query,
    record,
)
from web.http.templating import render
from web.usecases.checkin import KioskBundle
from web.usecases.facts import PersonCard

SCAN = obj(["session_id"], session_id=INT, hall_id=INT, credential={"type": "string", "maxLength": 200},
           person_id=INT, method={"enum": [Method.QR.value, Method.FACE.value, Method.MANUAL.value]},
           kiosk_time=TIME, nonce={"type": "string", "minLength": 1, "maxLength": 64},
           face_score={"type": "number", "description": "refused: a face score is the face service's own"},
           face_decision={"type": "string", "maxLength": 400,
                          "description": "method face: the face_decision the face API or camera socket gave"})
HALL, CONSENT = record(Hall), record(Consent)
VERDICT = obj(["outcome", "reason", "message", "person", "checkin"], outcome={"enum": [o.value for o in Outcome]},
              reason={"enum": [*(r.value for r in Refusal), None]}, message=STR,
              person={"anyOf": [record(PersonCard), {"type": "null"}]},
              checkin={"anyOf": [CHECKIN, {"type": "null"}]})

NUM: Schema = {"type": "number"}
PICTURE: Schema = {"type": "string", "contentEncoding": "base64", "description": "a JPEG or PNG picture"}
FILE: Schema = {"type": "string", "format": "binary"}
DECISION = ["accept", "confirm", "reject"]
LIVENESS: dict[str, Schema] = {"liveness": {"enum": ["passed", "failed"]},
            "liveness_mode": {"enum": ["off", "blink", "turn", "blink_or_turn", "blink_and_turn"]},
            "liveness_failure": {"enum": ["no_face", "too_few_frames", "no_movement", None]}}
FACE = obj(["decision", "reason", "message"], decision={"enum": DECISION},
           reason={"enum": ["match", "ambiguous", "borderline", "partial", "no_match", "empty_gallery", "too_small"]},
           distance={"type": ["number", "null"]},
           face_score={"type": ["number", "null"], "description": "the match distance (lower is closer)"},
           face_decision={"type": ["string", "null"], "description": "ACCEPT/CONFIRM: the sealed decision to pass to "
                                                                       "POST /api/checkins with method face"},
           message=STR, person={"type": ["object", "null"], "description": "ACCEPT/CONFIRM only"},
           alternatives={"type": "array", "items": record(PersonCard, distance=NUM),
                         "description": "CONFIRM (ambiguous): the other candidate"},
           box=record(Box), problem={"enum": ["too_small", "at_edge", None]},
           checkin={**VERDICT, "description": "with check_in: the verdict of the check-in made"})


def pictures(description: str, **fields: Schema) -> dict[str, Any]:
    """A request body of one picture (or a burst of frames): multipart, or JSON with base64 pictures."""
    return {"required": True, "description": description, "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "image": FILE, "frames": {"type": "array", "items": FILE, "maxItems": 15},
            **{k: STR for k in fields}}}},
        "application/json": {"schema": {"type": "object", "properties": {
            "image": PICTURE, "frames": {"type": "array", "items": PICTURE, "maxItems": 15}, **fields}}}}}


def face_paths(pid: dict[str, Any]) -> dict[str, Any]:
    kiosk_fields: dict[str, Schema] = {"session_id": INT, "hall_id": INT, "kiosk_time": TIME,
                                       "nonce": {"type": "string", "maxLength": 64}}
    identify = op("Who is at the kiosk, among its hall's invitees with a face enrolled: one result per face "
                  "(liveness off), or the person of a burst of frames that blinked or turned their head "
                  "(liveness on). Checks nobody in unless check_in is true: then each accepted face is checked "
                  "in through the ledger (method face). 429 while the kiosk's previous picture is analysed.",
                  "kiosk", ok=obj(["liveness", "faces"], **LIVENESS, message=STR, gallery_size=INT,
                                  faces={"type": "array", "items": FACE}),
                  params=[query("lang", {"enum": ["vi", "en"]})], errors=(401, 403, 404, 422, 429, 503))
    identify["requestBody"] = pictures("session_id and a picture (or frames, ~5 a second, when liveness is on)",
                                       **kiosk_fields, check_in={"type": "boolean"})
    verify = op("1:1 after a QR scan: is the face at the kiosk this person's? (the conference's invitees only)",
                "kiosk", ok=obj(["liveness", "decision"], **LIVENESS, person_id=INT,
                                decision={"enum": [*DECISION, None]}, distance={"type": ["number", "null"]},
                                face_score={"type": ["number", "null"]}, message=STR),
                errors=(401, 403, 404, 422, 429, 503))
    verify["requestBody"] = pictures("session_id, person_id and a picture (or frames)", **kiosk_fields,
                                     person_id=INT)
    enrol = op("Enrol the person's face from one picture showing exactly one face, under their explicit consent "
               "(self, or a hall clerk in scope; logged). Only an encrypted template is kept, never the picture.",
               "cookie", 201, params=[pid], ok=obj(["person_id", "consent", "enrolled_at"], person_id=INT,
                                                   consent=CONSENT, enrolled_at=TIME, face_size=INT))
    enrol["requestBody"] = pictures("image, consent=true, and optionally text_version and channel "
                                    "(hall_operator or paper; a participant's own is participant_page)",
                                    consent={"type": "boolean"}, text_version=STR,
                                    channel={"enum": ["hall_operator", "paper"]})
    return {
        "/api/persons/{pid}/face": {
            "get": op("The person's face enrolment and consents (self, or staff in scope; logged)", "cookie",
                      params=[pid], ok=obj(["person_id", "enrolled"], person_id=INT, enrolled={"type": "boolean"},
                                           enrolled_at={"type": ["string", "null"], "format": "date-time"},
                                           consent={"anyOf": [CONSENT, {"type": "null"}]},
                                           consents=array(CONSENT))),
            "post": enrol,
            "delete": op("Withdraw consent: the template is deleted in the same transaction (self, or staff in "
                         "scope; logged)", "cookie", params=[pid], ok=obj(
                             ["person_id", "withdrawn", "template_deleted"], person_id=INT,
                             withdrawn={"type": "array", "items": INT}, template_deleted={"type": "boolean"}))},
        "/api/faces/identify": {"post": identify},
        "/api/faces/verify": {"post": verify},
        "/api/faces/consent-text": {"get": op("The consent text a person agrees to before enrolment", "none",
                                              params=[query("version", STR)],
                                              ok=obj(["version", "title", "paragraphs"], version=STR, title=STR,
                                                     paragraphs={"type": "array", "items": STR},
                                                     current={"type": "boolean"}), errors=(404,))},
    }


ON_AIR = {"type": ["object", "null"], "properties": {"kind": {"enum": ["presenter", "hall"]}, "name": STR,
                                                     "hall_id": {"type": ["integer", "null"]}}}
FLOOR = obj(["holder", "hands"], holder={"type": ["integer", "null"]}, holder_name=STR,
            hands={"type": "array", "items": obj(["hall_id", "hall", "at"], hall_id=INT, hall=STR, at=TIME)})
MEDIA_STATE: dict[str, Schema] = {
    "session": INT, "live": {"type": "boolean"}, "on_air": ON_AIR, "presenter": {"type": "boolean"},
    "viewers": {"type": "integer", "description": "WebRTC viewers on this server"},
    "hls": {"type": ["string", "null"], "description": "the HLS playlist (its path carries a random key: cacheable)"},
    "recording": {"type": "boolean"}, "floor": FLOOR}


def media_paths() -> dict[str, Any]:
    """The livestream (web/routes/media.py); signalling itself is on the WebSocket (docs/PROTOCOL.md 7)."""
    sid = path_param("sid")
    recording = obj(["name", "started_at", "bytes", "url"], name=STR, started_at=TIME, bytes=INT,
                    recording={"type": "boolean", "description": "still being written"}, url=STR)
    return {
        "/api/sessions/{sid}/media": {"get": op(
            "What a watch, present or hall-screen page needs before it connects: the broadcast's state, the ICE "
            "servers (none by default), the video codec, and whether the caller may publish or give the floor. "
            "Signed-in viewers of the session (invited participants, staff whose scope the conference concerns) "
            "or a hall screen with its device token", "cookie", params=[sid], errors=(401, 403, 404),
            ok=obj(["live", "ice_servers", "codec"], **MEDIA_STATE,
                   ice_servers={"type": "array", "description": "RTCIceServer objects", "items": obj(
                       ["urls"], urls=array(STR), username=STR, credential=STR)},
                   codec={"enum": ["H264", "VP8"]}, heartbeat_s=INT, may_publish={"type": "boolean"},
                   may_control={"type": "boolean"}))},
        "/api/sessions/{sid}/recordings": {"get": op(
            "The session's recordings (MP4), newest first; each is served at its url (Range requests for seeking)",
            "cookie", params=[sid], errors=(401, 403, 404),
            ok=obj(["recordings"], recordings={"type": "array", "items": recording}))},
    }


def document() -> dict[str, Any]:
    cid, sid, hid, uid, pid, did = (path_param(n) for n in ("cid", "sid", "hid", "uid", "pid", "did"))
    return {
        "openapi": "3.1.0",
        "info": {"title": "hoinghi", "version": "1",
                 "description": "Conferences, halls and attendance. Signed-in users send the session cookie and, "
                                "for writes, the X-CSRF-Token header (from GET /api/me); kiosks send "
                                "`Authorization: Bearer <device token>`."},
        "components": {
            "securitySchemes": {"cookie": {"type": "apiKey", "in": "cookie", "name": "hoinghi"},
                                "kiosk": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": obj(["error", "message"], error=STR, message=STR, field=STR,
                                     problems={"type": "array", "items": OBJ})},
        },
        "paths": {
            "/api/me": {"get": op("The signed-in user and their CSRF token", "cookie",
                                  ok=obj(["user", "csrf_token"], user=USER, csrf_token=STR))},
            "/api/me/password": {"post": op(
                "Change the account's own password (the current one required, throttled as sign-in is); every "
                "other session of the account ends, this one gets a new CSRF token", "cookie",
                ok=obj(["user", "csrf_token"], user=USER, csrf_token=STR),
                body=obj(["current_password", "new_password"], current_password=STR, new_password=STR),
                errors=(401, 403, 422, 429))},
            "/api/conferences": {
                "get": op("Conferences that concern the user", "cookie", ok=array(record(Conference))),
                "post": op("Create a conference", "cookie", 201, ok=record(Conference), body=obj(
                    ["title", "organiser_unit_id"], title={"type": "string", "maxLength": 300}, topic=STR,
                    mode={"enum": ["discussion", "presenter", "broadcast"]}, organiser_unit_id=INT))},
            "/api/conferences/{cid}": {"get": op("One conference", "cookie", params=[cid], ok=record(Conference))},
            "/api/conferences/{cid}/sessions": {
                "get": op("Its sessions", "cookie", params=[cid], ok=array(record(Session))),
                "post": op("Add a session", "cookie", 201, params=[cid], ok=record(Session), body=obj(
                    ["title", "starts_at", "ends_at"], title=STR, starts_at=TIME, ends_at=TIME,
                    late_after_minutes={"type": "integer", "minimum": 0, "maximum": 1440}))},
            "/api/conferences/{cid}/halls": {
                "get": op("Its halls within the user's scope", "cookie", params=[cid], ok=array(HALL)),
                "post": op("Add a hall", "cookie", 201, params=[cid], errors=(401, 403, 404, 409, 422), ok=HALL,
                           body=obj(
                    ["unit_id", "channel"], unit_id=INT, name=STR, role={"enum": ["host", "participating"]},
                    channel={"enum": ["two_way", "receive_only", "broadcast", "in_person"]}, chair=STR,
                    technical_contact=STR))},
            "/api/sessions/{sid}": {"patch": op(
                "Move a session's times and check-in window (the conference's organisers); a window not given keeps "
                "its distance to the start and the end", "cookie", params=[sid], ok=record(Session), body=obj(
                    ["starts_at", "ends_at"], starts_at=TIME, ends_at=TIME, checkin_opens_at=TIME,
                    checkin_closes_at=TIME, late_after_minutes={"type": "integer", "minimum": 0, "maximum": 1440}))},
            "/api/sessions/{sid}/presenters": {"post": op(
                "Assign an account to present the session (it may then broadcast it): the conference's organisers",
                "cookie", 201, params=[sid], errors=(401, 403, 404, 422), body=obj(["user_id"], user_id=INT),
                ok=obj(["session_id", "user_id"], session_id=INT, user_id=INT))},
            "/api/units/{uid}/people": {"get": op("Persons of a unit's subtree, searched without diacritics",
                                                  "cookie", params=[uid, query("q", STR), query("limit", INT),
                                                                    query("offset", INT)],
                                                  ok=obj(["unit", "total", "people"], unit=record(Unit), total=INT,
                                                         people=array(record(Person))))},
            "/api/persons/{pid}": {"get": op("One person (self, or staff in scope)", "cookie", params=[pid],
                                             ok=record(Person))},
            "/api/persons/{pid}/qr.png": {"get": op("The person's QR code as PNG (self, or staff who hand out cards "
                                                    "in scope; logged), for a conference (default: their coming one)",
                                                    "cookie", params=[pid, query("conference_id", INT)],
                                                    ok={"type": "string",
                                                                                "contentMediaType": "image/png"})},
            "/api/persons/{pid}/qr.svg": {"get": op("The person's QR code as SVG (self, or staff who hand out cards "
                                                    "in scope; logged), for a conference (default: their coming one)",
                                                    "cookie", params=[pid, query("conference_id", INT)],
                                                    ok={"type": "string",
                                                                                "contentMediaType": "image/svg+xml"})},
            "/api/persons/{pid}/credential": {"post": op("Re-issue a lost card: a new credential, the old one revoked "
                                                         "(organiser in scope)", "cookie", 201, params=[pid], ok=obj(
                ["person_id", "credential_id"], person_id=INT, credential_id=STR, issued_at=TIME,
                valid_until=TIME))},
            "/api/halls/{hid}/enrolment-codes": {"post": op("A one-time code to enrol a kiosk at the hall", "cookie",
                                                            201, params=[hid], ok=obj(
                ["hall_id", "code", "expires_at"], hall_id=INT, code=STR, expires_at=TIME))},
            "/api/halls/{hid}/devices": {"get": op("The hall's kiosks", "cookie", params=[hid],
                                                   ok=array(record(Device, omit=("token_hash",))))},
            "/api/devices/{did}/revoke": {"post": op("Revoke a kiosk's key", "cookie", params=[did],
                                                     ok=obj(["revoked"], revoked=INT))},
            "/api/devices/enrol": {"post": op("Spend an enrolment code; returns the device token once", "none", 201,
                                              body=obj(["code", "name"], code=STR, name=STR), errors=(422, 429),
                                              ok=obj(["device_id", "hall_id", "token"], device_id=INT, hall_id=INT,
                                                     token=STR))},
            "/api/kiosk/halls/{hid}": {"get": op(
                "The kiosk's hall and its invitees (what tells namesakes apart; with session_id, when each was "
                "checked in)", "kiosk", params=[hid, query("q", STR), query("limit", INT), query("session_id", INT)],
                ok=obj(["hall", "device_id", "people"], hall=HALL, device_id=INT, people=array(obj(
                    ["id", "full_name", "unit_id", "detail", "checked_in_at"], id=INT, full_name=STR, unit_id=INT,
                    detail=STR, checked_in_at={"type": ["string", "null"], "format": "date-time"}))))},
            "/api/kiosk/bundle": {"get": op("Keys, revocations and roster for offline check-in", "kiosk",
                                            params=[query("session_id", INT, True)], ok=record(KioskBundle))},
            "/api/kiosk/sessions": {"get": op(
                "The kiosk's hall, its conference and the conference's sessions (to pick one); camera frames then "
                "go over /ws (docs/KIOSK.md)", "kiosk", errors=(401,), ok=obj(
                    ["device", "hall", "conference", "sessions", "faces"], device=obj(["id", "name"], id=INT, name=STR),
                    hall=obj(["id", "name"], id=INT, name=STR), conference=obj(["id", "title"], id=INT, title=STR),
                    faces={"type": "boolean"}, sessions={"type": "array", "items": obj(
                        ["id", "title", "starts_at", "ends_at", "checkin_open"], id=INT, title=STR, starts_at=TIME,
                        ends_at=TIME, checkin_opens_at=TIME, checkin_closes_at=TIME,
                        checkin_open={"type": "boolean"})}))},
            "/api/checkins": {"post": op("Check a person in (QR text or manual pick); answered once committed",
                                         "kiosk", ok=VERDICT, body=SCAN, params=[query("lang", {"enum": ["vi", "en"]})],
                                         errors=(401, 403, 404, 422, 503))},
            "/api/checkins/upload": {"post": op("An offline kiosk's queue of scans, idempotent by nonce", "kiosk",
                                                body=obj(["items"], items={"type": "array", "maxItems": 5000,
                                                                           "items": SCAN}),
                                                ok=obj(["results"], results=array(VERDICT)),
                                                errors=(401, 403, 404, 422, 503))},
            "/api/checkins/undo": {"post": op("Undo a check-in (same device, within 5 minutes)", "kiosk", body=obj(
                ["session_id", "person_id"], session_id=INT, hall_id=INT, person_id=INT),
                ok=obj(["undone"], undone=CHECKIN))},
            "/api/absences": {"post": op("Mark absent, with or without a reason", "cookie", ok=CHECKIN, body=obj(
                ["session_id", "hall_id", "person_id"], session_id=INT, hall_id=INT, person_id=INT,
                reason={"type": "string", "maxLength": 500}))},
            "/api/headcounts": {"post": op("A hall's reported headcount", "cookie", ok=record(Headcount), body=obj(
                ["session_id", "hall_id", "expected", "present"], session_id=INT, hall_id=INT,
                expected={"type": "integer", "minimum": 0}, present={"type": "integer", "minimum": 0},
                absent_excused={"type": "integer", "minimum": 0}, absent_unexcused={"type": "integer", "minimum": 0}))},
            "/api/live/ticket": {"post": op("A 60-second ticket for the live WebSocket's hello (single-use, bound to "
                                            "the session's version)", "cookie", errors=(401, 403),
                                            ok=obj(["ticket", "expires_in"], ticket=STR, expires_in=INT))},
            "/api/sessions/{sid}/checkins": {"get": op("A hall's check-ins for a session", "cookie",
                                                       params=[sid, query("hall_id", INT, True)], ok=array(CHECKIN))},
            "/api/asyncapi.json": {"get": op(
                "The live WebSocket protocol (/ws) as an AsyncAPI 3.0 document (web/live/contract.py)", "none",
                errors=(), ok={"type": "object", "required": ["asyncapi", "channels", "operations"], "properties": {
                    "asyncapi": {"const": "3.0.0"}, "channels": {"type": "object", "additionalProperties": {}},
                    "operations": {"type": "object", "additionalProperties": {}}}})},
            "/api/docs": {"get": op("This documentation, drawn by Swagger UI from /api/openapi.json", "none",
                                    ok={"type": "string", "contentMediaType": "text/html"}, errors=())},
            **account_paths(),
            **face_paths(pid),
            **content_paths(),
            **media_paths(),
        },
    }


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(document())


async def docs(request: Request) -> Response:
    """The documentation page: Swagger UI (vendored, web/static/vendor) reading /api/openapi.json."""
    return await render(request, "api_docs.html", signed_in=False)


routes = [Route("/api/openapi.json", openapi), Route("/api/docs", docs)]
