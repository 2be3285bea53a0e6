"""The OpenAPI 3.1 document of the JSON API, served at /api/openapi.json.

Written out here rather than inferred: it is the contract kiosks and other clients build on.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from attendance.checkins import Method, Outcome, Refusal

Schema = dict[str, Any]

INT: Schema = {"type": "integer"}
STR: Schema = {"type": "string"}
TIME: Schema = {"type": "string", "format": "date-time"}
OBJ: Schema = {"type": "object"}
ERROR: Schema = {"$ref": "#/components/schemas/Error"}


def obj(required: list[str], **props: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": props}


def responses(ok_status: int = 200, ok: Schema = OBJ, *errors: int) -> dict[str, Any]:
    out: dict[str, Any] = {str(ok_status): {"description": "OK", "content": {"application/json": {"schema": ok}}}}
    for status in errors:
        out[str(status)] = {"description": "refused", "content": {"application/json": {"schema": ERROR}}}
    return out


def op(summary: str, security: str, ok_status: int = 200, ok: Schema = OBJ, body: Schema | None = None,
       params: list[dict[str, Any]] | None = None, errors: tuple[int, ...] = (401, 403, 404, 422)) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses(ok_status, ok, *errors),
                                 "security": [] if security == "none" else [{security: []}]}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        operation["parameters"] = params
    return operation


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": INT}


def query(name: str, schema: Schema, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


SCAN = obj(["session_id"], session_id=INT, hall_id=INT, credential={"type": "string", "maxLength": 200},
           person_id=INT, method={"enum": [Method.QR.value, Method.FACE.value, Method.MANUAL.value]},
           kiosk_time=TIME, nonce={"type": "string", "minLength": 1, "maxLength": 64}, face_score={"type": "number"})
VERDICT = obj(["outcome", "message"], outcome={"enum": [o.value for o in Outcome]},
              reason={"enum": [*(r.value for r in Refusal), None]}, message=STR,
              person={"type": ["object", "null"]}, checkin={"type": ["object", "null"]})


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
            "/api/me": {"get": op("The signed-in user and their CSRF token", "cookie")},
            "/api/conferences": {
                "get": op("Conferences that concern the user", "cookie", ok={"type": "array", "items": OBJ}),
                "post": op("Create a conference", "cookie", 201, body=obj(
                    ["title", "organiser_unit_id"], title={"type": "string", "maxLength": 300}, topic=STR,
                    mode={"enum": ["discussion", "presenter", "broadcast"]}, organiser_unit_id=INT))},
            "/api/conferences/{cid}": {"get": op("One conference", "cookie", params=[cid])},
            "/api/conferences/{cid}/sessions": {
                "get": op("Its sessions", "cookie", params=[cid], ok={"type": "array", "items": OBJ}),
                "post": op("Add a session", "cookie", 201, params=[cid], body=obj(
                    ["title", "starts_at", "ends_at"], title=STR, starts_at=TIME, ends_at=TIME,
                    late_after_minutes={"type": "integer", "minimum": 0, "maximum": 1440}))},
            "/api/conferences/{cid}/halls": {
                "get": op("Its halls within the user's scope", "cookie", params=[cid],
                          ok={"type": "array", "items": OBJ}),
                "post": op("Add a hall", "cookie", 201, params=[cid], errors=(401, 403, 404, 409, 422), body=obj(
                    ["unit_id", "channel"], unit_id=INT, name=STR, role={"enum": ["host", "participating"]},
                    channel={"enum": ["two_way", "receive_only", "broadcast", "in_person"]}, chair=STR,
                    technical_contact=STR))},
            "/api/units/{uid}/people": {"get": op("Persons of a unit's subtree, searched without diacritics",
                                                  "cookie", params=[uid, query("q", STR), query("limit", INT),
                                                                    query("offset", INT)])},
            "/api/persons/{pid}": {"get": op("One person (self, or staff in scope)", "cookie", params=[pid])},
            "/api/persons/{pid}/qr.png": {"get": op("The person's QR code as PNG (self, or staff in scope; logged)",
                                                    "cookie", params=[pid], ok={"type": "string",
                                                                                "contentMediaType": "image/png"})},
            "/api/persons/{pid}/qr.svg": {"get": op("The person's QR code as SVG (self, or staff in scope; logged)",
                                                    "cookie", params=[pid], ok={"type": "string",
                                                                                "contentMediaType": "image/svg+xml"})},
            "/api/persons/{pid}/credential": {"post": op("Re-issue a lost card: a new credential, the old one revoked "
                                                         "(organiser in scope)", "cookie", 201, params=[pid], ok=obj(
                ["person_id", "credential_id"], person_id=INT, credential_id=STR, issued_at=TIME,
                valid_until=TIME))},
            "/api/halls/{hid}/enrolment-codes": {"post": op("A one-time code to enrol a kiosk at the hall", "cookie",
                                                            201, params=[hid])},
            "/api/halls/{hid}/devices": {"get": op("The hall's kiosks", "cookie", params=[hid])},
            "/api/devices/{did}/revoke": {"post": op("Revoke a kiosk's key", "cookie", params=[did])},
            "/api/devices/enrol": {"post": op("Spend an enrolment code; returns the device token once", "none", 201,
                                              body=obj(["code", "name"], code=STR, name=STR),
                                              errors=(422,))},
            "/api/kiosk/halls/{hid}": {"get": op("The kiosk's hall and its invitees", "kiosk",
                                                 params=[hid, query("q", STR), query("limit", INT)])},
            "/api/kiosk/bundle": {"get": op("Keys, revocations and roster for offline check-in", "kiosk",
                                            params=[query("session_id", INT, True)])},
            "/api/checkins": {"post": op("Check a person in (QR text or manual pick); answered once committed",
                                         "kiosk", ok=VERDICT, body=SCAN, params=[query("lang", {"enum": ["vi", "en"]})],
                                         errors=(401, 403, 404, 422, 503))},
            "/api/checkins/upload": {"post": op("An offline kiosk's queue of scans, idempotent by nonce", "kiosk",
                                                body=obj(["items"], items={"type": "array", "maxItems": 5000,
                                                                           "items": SCAN}),
                                                errors=(401, 403, 404, 422, 503))},
            "/api/checkins/undo": {"post": op("Undo a check-in (same device, within 5 minutes)", "kiosk", body=obj(
                ["session_id", "person_id"], session_id=INT, hall_id=INT, person_id=INT))},
            "/api/absences": {"post": op("Mark absent, with or without a reason", "cookie", body=obj(
                ["session_id", "hall_id", "person_id"], session_id=INT, hall_id=INT, person_id=INT,
                reason={"type": "string", "maxLength": 500}))},
            "/api/headcounts": {"post": op("A hall's reported headcount", "cookie", body=obj(
                ["session_id", "hall_id", "expected", "present"], session_id=INT, hall_id=INT,
                expected={"type": "integer", "minimum": 0}, present={"type": "integer", "minimum": 0},
                absent_excused={"type": "integer", "minimum": 0}, absent_unexcused={"type": "integer", "minimum": 0}))},
            "/api/live/ticket": {"post": op("A 60-second ticket for the live WebSocket's hello", "cookie",
                                            errors=(401, 403))},
            "/api/sessions/{sid}/checkins": {"get": op("A hall's check-ins for a session", "cookie",
                                                       params=[sid, query("hall_id", INT, True)])},
        },
    }


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(document())


routes = [Route("/api/openapi.json", openapi)]
