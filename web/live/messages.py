"""Every live message as data: the JSON Schema of each client and server frame (docs/PROTOCOL.md).

One home for the shapes: web/live/protocol.py parses client frames by checking them against
`CLIENT` (with `check`, the small interpreter below, of the JSON Schema keywords used here) and builds
server frames named in `SERVER`; web/live/contract.py publishes both as the AsyncAPI 3.0 document
served at /api/asyncapi.json. Unknown fields of a client message are ignored (a later version may add
some); a server frame carries only the fields its schema names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from attendance.online import NotCounted

Schema = dict[str, Any]

VERSION = 1
FRAME_MAX = 16 * 1024
ID_MAX = 999_999_999
NESTING_MAX = 32  # levels of arrays and objects in one client message
RECENT_MAX = 30  # check-ins a topic's `recent` holds, in a snapshot and in a change
CAMERA_MODES = ("qr", "face")
# a topic's one spelling: ids from 1 to 999999999 without leading zeros (any other is `bad_topic`)
TOPIC_PATTERN = r"^session:([1-9]\d{0,8})/(?:(unit|hall):([1-9]\d{0,8})|(viewer|totals))$"


def _text(limit: int, about: str = "") -> Schema:
    return {"type": "string", "minLength": 1, "maxLength": limit, **({"description": about} if about else {})}


def _obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None, closed: bool = False,
         **more: Any) -> Schema:
    """An object schema: `required` and `optional` properties; `closed`: no others."""
    out: Schema = {"type": "object", "properties": {**required, **(optional or {})}}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out | more


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


ID: Schema = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
COUNT: Schema = {"type": "integer", "minimum": 0}
PERCENT: Schema = {"type": "number", "minimum": 0}
TIME: Schema = {"type": "string", "format": "date-time"}
TOPIC: Schema = {"type": "string", "minLength": 1, "maxLength": 100,
                 "description": "session:S/unit:U, session:S/hall:H, session:S/totals or session:S/viewer "
                                "(ids 1 to 999999999, no leading zeros; any other spelling is refused with the error "
                                "bad_topic)"}
KNOWN_TOPIC: Schema = {**TOPIC, "pattern": TOPIC_PATTERN}  # a topic the server names: always a valid one

# -- client to server ---------------------------------------------------------------------------------

CLIENT: dict[str, Schema] = {
    "hello": _obj({"v": {"const": VERSION, "description": "the protocol version (4000 if not spoken)"}},
                  {"ticket": _text(4096, "from POST /api/live/ticket, for a signed-in browser or client"),
                   "device_token": _text(4096, "a kiosk's bearer token")},
                  oneOf=[{"required": ["ticket"]}, {"required": ["device_token"]}],
                  description="The first message, within 10 s: a ticket or a device token (4001 otherwise)."),
    "subscribe": _obj({"topic": TOPIC},
                      {"since": {"type": "integer", "minimum": 0, "description": "the last seq seen of the topic"},
                       "epoch": _text(100, "the epoch of the snapshot that seq belongs to")},
                      description="Read a topic: a snapshot, or the missed changes and `resumed`."),
    "unsubscribe": _obj({"topic": TOPIC}, description="Stop reading a topic; answered `unsubscribed`."),
    "ping": _obj({}, description="A heartbeat, at least every heartbeat_s seconds; answered `pong`."),
    "camera": _obj({"session_id": ID},
                   {"mode": {"enum": list(CAMERA_MODES), "default": "qr"},
                    "lang": {"enum": ["vi", "en"], "default": "vi"}},
                   description="A kiosk's camera: the binary messages that follow are JPEG pictures."),
    "media_watch": _obj({"session": ID}, description="Get media_state now and on every change."),
    "rtc_offer": _obj({"session": ID, "role": {"enum": ["publish", "view"]}, "sdp": _text(FRAME_MAX)},
                      {"hall": ID, "ref": _text(64, "echoed in the answer")},
                      description="A WebRTC offer to view or publish the livestream."),
    "rtc_candidate": _obj({"pc": _text(64)},
                          {"candidate": {"type": "string", "maxLength": 1024, "default": "",
                                         "description": "candidate:…, or empty at the end of candidates"},
                           "sdp_mid": _nullable(_text(32)),
                           "sdp_mline_index": _nullable({"type": "integer", "minimum": 0, "maximum": 15})},
                          description="A browser's late ICE candidate."),
    "rtc_close": _obj({"pc": _text(64)}, description="End a peer connection."),
    "raise_hand": _obj({"session": ID}, {"hall": ID}, description="Ask for the floor (a kiosk omits hall)."),
    "lower_hand": _obj({"session": ID}, {"hall": ID}, description="Withdraw the request for the floor."),
    "floor": _obj({"session": ID, "action": {"enum": ["give", "take_back", "order"]}},
                  {"hall": ID, "halls": {"type": "array", "items": ID, "maxItems": 1000}},
                  allOf=[{"if": {"properties": {"action": {"const": "give"}}}, "then": {"required": ["hall"]}},
                         {"if": {"properties": {"action": {"const": "order"}}},
                          "then": {"required": ["halls"], "properties": {"halls": {"minItems": 1}}}}],
                  description="The organisers' floor control: give it to a hall, order the hands, take it back."),
}

# -- server to client ---------------------------------------------------------------------------------

_FIGURES = {"expected": COUNT, "in_person": COUNT, "online": COUNT, "absent_excused": COUNT,
            "absent_unexcused": COUNT, "percent": PERCENT}
_REPORTED = _obj({"expected": COUNT, "present": COUNT, "absent_excused": COUNT, "absent_unexcused": COUNT})
HALL_ROW = _obj({"id": ID, "name": {"type": "string"}, "unit_id": ID, "level": COUNT,
                 "channel": {"type": "string"}, **_FIGURES, "source": {"enum": ["counted", "reported"]},
                 "reported": _nullable(_REPORTED), "connection": {"enum": ["online", "offline", "unknown"]},
                 "last_seen": _nullable(TIME)}, closed=True)
UNIT_ROW = _obj({"id": ID, "name": {"type": "string"}, "level": COUNT, **_FIGURES}, closed=True)
TOTALS = _obj({**_FIGURES, "reported_present": COUNT, "viewers": COUNT, "halls": COUNT, "halls_online": COUNT},
              closed=True)
FEED_ITEM = _obj({"at": TIME, "name": {"type": "string"}, "hall": {"type": "string"}, "hall_id": _nullable(ID),
                  "unit_id": ID, "method": {"type": "string"}}, closed=True)
SESSION = _obj({"id": ID, "title": {"type": "string"}, "starts_at": TIME})


def _partial(row: Schema) -> Schema:
    """The same row with every field optional: a change carries only the fields that changed."""
    return {k: v for k, v in row.items() if k != "required"}


def _rows(row: Schema) -> Schema:
    return {"type": "object", "propertyNames": {"pattern": "^[0-9]+$"}, "additionalProperties": row}


RECENT: Schema = {"type": "array", "items": FEED_ITEM, "maxItems": RECENT_MAX,
                  "description": f"newest first, at most {RECENT_MAX}: a client puts a change's entries before "
                                 f"its own and keeps the first {RECENT_MAX}"}
RATE: Schema = {"type": "object", "propertyNames": {"pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d$"},
                "additionalProperties": COUNT, "description": "present check-ins per minute (UTC), by minute"}
UNIT_STATE = _obj({"session": SESSION, "unit": UNIT_ROW, "totals": TOTALS, "halls": _rows(HALL_ROW),
                   "units": _rows(UNIT_ROW), "rate": RATE, "recent": RECENT}, closed=True, title="unit state")
UNIT_CHANGE = _obj({}, {"unit": _partial(UNIT_ROW), "totals": TOTALS, "halls": _rows(_partial(HALL_ROW)),
                        "units": _rows(_partial(UNIT_ROW)), "rate": RATE, "recent": RECENT},
                   closed=True, minProperties=1, title="unit change")
HALL_STATE = _obj({"session": SESSION, "hall": HALL_ROW, "recent": RECENT}, closed=True, title="hall state")
HALL_CHANGE = _obj({}, {"hall": HALL_ROW, "recent": RECENT}, closed=True, minProperties=1, title="hall change")
# the session's own unit (its conference's organiser, the province) in counts only: no names, no rows
TOTALS_STATE = _obj({"session": SESSION, "unit": UNIT_ROW, "totals": TOTALS}, closed=True, title="totals state")
TOTALS_CHANGE = _obj({}, {"unit": _partial(UNIT_ROW), "totals": TOTALS}, closed=True, minProperties=1,
                     title="totals change")

_PERSON = _nullable({"type": "object"})
_REF = _nullable(_text(64))

SERVER: dict[str, Schema] = {
    "welcome": _obj({"v": {"const": VERSION}, "heartbeat_s": {"type": "integer", "minimum": 1},
                     "user": {"anyOf": [_obj({"id": {"type": "integer"}, "role": {"type": "string"}}, closed=True),
                                        _obj({"device_id": ID, "hall_id": ID}, closed=True)]}},
                    description="The answer to hello: who the connection is (an account or a kiosk)."),
    "pong": _obj({"t": {"type": "integer", "description": "server time, unix seconds"}},
                 {"counted": {"type": "boolean", "description": "to a viewer: whether the ping counted as watching"},
                  "reason": {"enum": [r.value for r in NotCounted], "description": "why it did not count"}},
                 closed=True, description="The answer to ping."),
    "subscribed": _obj({"topic": KNOWN_TOPIC}, description="A viewer topic's subscription (it has no snapshot)."),
    "unsubscribed": _obj({"topic": TOPIC}, description="The answer to unsubscribe (also for a topic not read)."),
    "resumed": _obj({"topic": KNOWN_TOPIC, "seq": COUNT, "epoch": {"type": "string"}},
                    description="After the missed changes of a resume (none, when nothing was missed): the client "
                                "holds the topic's state up to seq."),
    "snapshot": _obj({"topic": KNOWN_TOPIC, "seq": COUNT, "epoch": {"type": "string"},
                      "data": {"anyOf": [UNIT_STATE, HALL_STATE, TOTALS_STATE]}},
                     description="A topic's whole state; replaces what the client held."),
    "change": _obj({"topic": KNOWN_TOPIC, "seq": ID, "data": {"anyOf": [UNIT_CHANGE, HALL_CHANGE, TOTALS_CHANGE]}},
                   description="What changed since the previous change (seq one more): merged into the state."),
    "error": _obj({"code": {"type": "string"}, "message": {"type": "string"}}, {"topic": TOPIC},
                  description="A refusal; the socket stays open (bad_topic, too_many_topics, forbidden, not_found, "
                              "bad_frame, unavailable, or a check-in refusal's code)."),
    "camera": _obj({"session_id": ID, "mode": {"enum": list(CAMERA_MODES)}, "fps": {"type": "integer"},
                    "frame_max": {"type": "integer"}}, description="The answer to camera."),
    "read": _obj({"n": COUNT, "codes": COUNT, "dropped": {"type": "boolean"}},
                 description="One camera picture read: codes found; dropped when it came too soon."),
    "verdict": _obj({"source": {"type": "string"}, "nonce": {"type": "string"}, "outcome": {"type": "string"},
                     "reason": _nullable({"type": "string"}), "message": {"type": "string"}, "person": _PERSON,
                     "checkin": _PERSON}, description="A code's check-in, as POST /api/checkins answers it."),
    "face_confirm": _obj({"person": _PERSON, "face_decision": {"type": "string"}, "face_score": {"type": "number"},
                          "reason": {"type": "string"}, "message": {"type": "string"}},
                         description="A likely face match for the operator to confirm."),
    "face": _obj({"state": {"enum": ["observing", "liveness_failed", "too_small", "not_recognised", "no_face"]},
                  "message": {"type": "string"}}, description="A hint for the person before the camera."),
    "rtc_answer": _obj({"session": ID, "role": {"enum": ["publish", "view"]}, "pc": {"type": "string"},
                        "sdp": {"type": "string"}, "ref": _REF}, description="The answer to rtc_offer."),
    "rtc_error": _obj({"code": {"type": "string"}, "message": {"type": "string"}, "session": _nullable(ID)},
                      {"ref": _REF}, description="A refused media message."),
    "rtc_closed": _obj({"pc": {"type": "string"}, "session": ID, "reason": {"type": "string"}},
                       description="A peer connection the server ended."),
    "media_state": _obj({"session": ID, "live": {"type": "boolean"}, "presenter": {"type": "boolean"},
                         "viewers": COUNT, "on_air": _nullable({"type": "object"}),
                         "hls": _nullable({"type": "string"}), "recording": {"type": "boolean"},
                         "floor": {"type": "object"}},
                        description="The livestream's state, on media_watch and on every change."),
}


# -- checking a client message against its schema -----------------------------------------------------

@dataclass(frozen=True)
class Invalid(Exception):
    """A value that its schema refuses: `path` names the field ("" the message itself)."""

    path: str
    message: str


_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                       "boolean": (bool,), "object": (dict,), "array": (list,), "null": (type(None),)}


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[kind])


def _what(schema: Schema) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "const" in schema:
        return str(schema["const"])
    kind = schema.get("type")
    if kind == "integer":
        return f"a whole number from {schema.get('minimum', '…')} to {schema.get('maximum', '…')}"
    if kind == "string":
        return f"a string of {schema.get('minLength', 0)} to {schema.get('maxLength', '…')} characters"
    if "anyOf" in schema:
        return " or ".join(_what(s) for s in schema["anyOf"])
    return f"a {kind}" if kind else "valid"


def check(schema: Schema, value: Any, path: str = "") -> None:
    """Raise Invalid unless `value` satisfies `schema` (the keywords used in this module)."""
    name = path or "the message"
    kind = schema.get("type")
    if kind is not None and not _is(value, kind):
        raise Invalid(path, f"{name} must be {_what(schema)}")
    if "const" in schema and (value != schema["const"] or type(value) is not type(schema["const"])):
        raise Invalid(path, f"{name} must be {schema['const']}")
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid(path, f"{name} must be {_what(schema)}")
    if "anyOf" in schema and not any(_valid(s, value, path) for s in schema["anyOf"]):
        raise Invalid(path, f"{name} must be {_what(schema)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (
            value < schema.get("minimum", value) or value > schema.get("maximum", value)):
        raise Invalid(path, f"{name} must be {_what(schema)}")
    if isinstance(value, str) and not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
        raise Invalid(path, f"{name} must be {_what(schema)}")
    if isinstance(value, str) and "pattern" in schema and re.search(schema["pattern"], value) is None:
        raise Invalid(path, f"{name} must match {schema['pattern']}")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            raise Invalid(path, f"{name} must have {schema.get('minItems', 0)} to {schema.get('maxItems', '…')} items")
        if "items" in schema:
            for i, item in enumerate(value):
                check(schema["items"], item, f"{name}[{i}]")
    if isinstance(value, dict):
        for field in schema.get("required", ()):
            if field not in value:
                raise Invalid(f"{path}.{field}" if path else field, f"{field} is required")
        for field, sub in schema.get("properties", {}).items():
            if field in value:
                check(sub, value[field], f"{path}.{field}" if path else field)
    for sub in schema.get("allOf", ()):
        check(sub, value, path)
    if "oneOf" in schema and sum(_valid(s, value, path) for s in schema["oneOf"]) != 1:
        raise Invalid(path, f"{name} needs exactly one of: " + "; ".join(
            " and ".join(s.get("required", ())) for s in schema["oneOf"]))
    if "if" in schema and _valid(schema["if"], value, path) and "then" in schema:
        check(schema["then"], value, path)


def _valid(schema: Schema, value: Any, path: str) -> bool:
    try:
        check(schema, value, path)
    except Invalid:
        return False
    return True


def depth(value: Any, limit: int = NESTING_MAX) -> int:
    """How deeply `value` nests arrays and objects, counted up to `limit` + 1."""
    if limit < 0 or not isinstance(value, (dict, list)):
        return 0
    inner = value.values() if isinstance(value, dict) else value
    return 1 + max((depth(v, limit - 1) for v in inner), default=0)
