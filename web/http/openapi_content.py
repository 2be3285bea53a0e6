"""The OpenAPI document's documents, feedback, reports, audit log and account administration operations
(web/routes/documents.py, feedback.py, reports.py, administration.py), a part of web/http/openapi.py."""

from __future__ import annotations

from typing import Any

from attendance.checkins import CheckIn
from conference.accounts import User
from web.http.schemas import INT, STR, TIME, array, obj, op, path_param, query, record
from web.reporting.model import Column, Table

USER, CHECKIN = record(User), record(CheckIn)


FEEDBACK = obj(["id", "kind", "state", "content", "anonymous"], id=INT,
               kind={"enum": ["opinion", "proposal", "recommendation", "speak_request"]},
               state={"enum": ["new", "in_progress", "accepted", "answered", "escalated"]},
               content={"type": "string", "maxLength": 4000}, anonymous={"type": "boolean"},
               author={"type": ["string", "null"]}, unit=STR, handled_by=STR,
               conference_id={"type": ["integer", "null"]}, created_at=TIME, answer={"type": ["string", "null"]},
               answered_at={"type": ["string", "null"], "format": "date-time"},
               receipt={"type": "string", "description": "anonymous only, in the answer to POST: shown once"})
DOCUMENT = obj(["id", "title", "access", "content_type", "size"], id=INT, conference_id=INT, title=STR, number=STR,
               issuer=STR, issued_on={"type": ["string", "null"], "format": "date"}, category=STR,
               access={"enum": ["public", "signed_in"]}, content_type=STR, size=INT, page_url=STR, file_url=STR,
               created_at=TIME, openings={**obj(["total", "by_unit"], total=INT, by_unit=array(obj(
                   ["unit", "openings"], unit={"type": ["string", "null"]}, openings=INT))),
                   "description": "organisers only: total, and by reader's unit"})
REPORT_FILTERS = [query("unit", INT), query("level", {"type": "integer", "minimum": 0, "maximum": 3}),
                  query("channel", {"enum": ["two_way", "receive_only", "broadcast", "in_person"]}),
                  query("source", {"enum": ["counted", "reported"]}),
                  query("absence", {"enum": ["absent_excused", "absent_unexcused", "pending"]}),
                  query("depth", {"type": "integer", "minimum": 0}), query("pending", {"enum": [0, 1]}),
                  query("lang", {"enum": ["vi", "en"]})]


def content_paths() -> dict[str, Any]:
    """Documents, feedback, reports and the audit log (web/routes/documents.py, feedback_pages.py, report_pages.py)."""
    cid, did, fid, sid = (path_param(n) for n in ("cid", "did", "fid", "sid"))
    upload = op("Upload a document (organisers of the conference): multipart with `file` (PDF, DOCX, PNG, JPEG or "
                "WebP, at most 25 MB; the type is read from the content, a disguised file is refused) and the fields",
                "cookie", 201, ok=DOCUMENT, params=[cid], errors=(401, 403, 404, 422))
    upload["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": obj(
        ["file", "title"], file={"type": "string", "contentMediaType": "application/octet-stream"}, title=STR,
        number=STR, issuer=STR, issued_on={"type": "string", "format": "date"}, category=STR,
        access={"enum": ["public", "signed_in"]})}}}
    return {
        "/api/conferences/{cid}/documents": {
            "get": op("The conference's documents (organisers also get the openings by unit)", "cookie",
                      params=[cid], ok={"type": "array", "items": DOCUMENT}),
            "post": upload},
        "/api/documents/{did}": {
            "get": op("One document: anyone for a public one, signed-in users it concerns otherwise (401 anonymous)",
                      "none", params=[did], ok=DOCUMENT, errors=(401, 403, 404)),
            "delete": op("Remove a document (organisers of the conference)", "cookie", params=[did],
                         ok=obj(["removed"], removed=INT))},
        "/api/feedback": {
            "get": op("Feedback from the organiser's units, newest first (named authors: logged)", "cookie",
                      params=[query("unit", INT), query("conference", INT),
                              query("state", FEEDBACK["properties"]["state"]),
                              query("kind", FEEDBACK["properties"]["kind"]), query("page", INT)],
                      ok=obj(["total", "items"], total=INT, items={"type": "array", "items": FEEDBACK})),
            "post": op("Send feedback, signed or anonymous; an anonymous one is answered with its receipt code",
                       "cookie", 201, ok=FEEDBACK, body=obj(
                           ["kind", "content"], kind=FEEDBACK["properties"]["kind"],
                           content={"type": "string", "maxLength": 4000}, conference_id=INT,
                           anonymous={"type": "boolean"}))},
        "/api/me/feedback": {"get": op("The user's own signed feedback, with the answers", "cookie",
                                       ok={"type": "array", "items": FEEDBACK})},
        "/api/feedback/receipt": {"post": op("Anonymous feedback by its receipt code", "none", ok=FEEDBACK,
                                             body=obj(["code"], code=STR), errors=(404, 422, 429))},
        "/api/feedback/{fid}": {"get": op("One feedback (its author, or organisers in scope)", "cookie",
                                          params=[fid], ok=FEEDBACK)},
        "/api/feedback/{fid}/state": {"post": op(
            "Move feedback on: in_progress, accepted, answered (with answer), escalated (to the unit above)",
            "cookie", params=[fid], ok=FEEDBACK, errors=(401, 403, 404, 409, 422),
            body=obj(["state"], state=FEEDBACK["properties"]["state"], answer={"type": "string", "maxLength": 4000}))},
        "/api/sessions/{sid}/report": {"get": op(
            "The session report's tables (halls, unit rollup, absentees, methods, feedback), with the unit tree as "
            "it stood on the session's day; the absentee list is personal data (logged)", "cookie",
            params=[sid, *REPORT_FILTERS], ok=obj(
                ["conference", "session", "unit", "tree_as_of", "summary", "tables"],
                conference=obj(["id", "title"], id=INT, title=STR),
                session=obj(["id", "title", "starts_at"], id=INT, title=STR, starts_at=TIME),
                unit=obj(["id", "name"], id=INT, name=STR), tree_as_of={"type": "string", "format": "date"},
                summary={"type": "object", "description": "the report unit's totals (as the dashboard's), by name",
                         "additionalProperties": {"type": ["number", "null"]}},
                tables=array(record(Table, columns=array(record(Column, omit=("width",)))))))},  # as table_json
        "/api/audit": {"get": op("The audit log (administrator), with check-ins recorded by hand", "cookie",
                                 params=[query("category", {"enum": ["personal_data", "attendance", "biometric",
                                                                     "accounts", "content"]}),
                                         query("user", STR), query("from", {"type": "string", "format": "date"}),
                                         query("to", {"type": "string", "format": "date"}), query("page", INT)],
                                 ok=obj(["total", "entries", "manual_attendance"], total=INT, entries=array(AUDITED),
                                        manual_attendance=array(OPERATED)))},
    }


def account_paths() -> dict[str, Any]:
    """Administering accounts (web/routes/administration.py): the administrator and organisers, for the
    accounts below them (`reach` in conference/accounts.py); each change ends the account's sessions."""
    uid = path_param("uid")
    changed = obj(["user"], user=USER)
    return {
        "/api/accounts": {"get": op("The staff accounts the signed-in user may administer", "cookie",
                                    ok=obj(["accounts"], accounts=array(USER)), errors=(401, 403))},
        "/api/accounts/{uid}/deactivate": {"post": op(
            "Deactivate an account below one: every session of it ends, its sockets and media on every hub",
            "cookie", params=[uid], ok=changed)},
        "/api/accounts/{uid}/activate": {"post": op("Reactivate an account below one", "cookie", params=[uid],
                                                    ok=changed)},
        "/api/accounts/{uid}/role": {"post": op(
            "Another role or unit scope for an account below one, never to one's own rank or above; every session "
            "of it ends", "cookie", params=[uid], ok=changed, body=obj(
                ["role"], role=USER["properties"]["role"], scope_unit_id={"type": ["integer", "null"]}))},
    }


AUDITED = obj(["id", "at", "action", "subject", "detail", "actor", "device_id"], id=INT, at=TIME, action=STR,
              subject=STR, detail=STR, actor={"type": ["string", "null"]}, device_id={"type": ["integer", "null"]})
OPERATED = obj(["at", "session_id", "person_id", "status", "method", "hall_id", "operator"], at=TIME,
               session_id=INT, person_id=INT, status=CHECKIN["properties"]["status"],
               method=CHECKIN["properties"]["method"], hall_id=CHECKIN["properties"]["hall_id"],
               operator={"type": ["string", "null"]})
