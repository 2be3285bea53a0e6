"""JSON Schemas of the records the API answers with, derived from the records themselves, and the pieces
the OpenAPI document (web/http/openapi.py, openapi_content.py) is built of (`obj`, `op`, parameters).

`encoding.plain` turns a record (a dataclass) into JSON field by field: every field, an enum as its
value, a date or time as ISO 8601, a set as a sorted list. `record(Type)` says the same of the type, from
its annotations, so the OpenAPI document (web/http/openapi.py) describes what the routes really send
and follows the records when they change, instead of a hand-written copy beside them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from enum import Enum
from typing import Any

Schema = dict[str, Any]

INT: Schema = {"type": "integer"}
STR: Schema = {"type": "string"}
TIME: Schema = {"type": "string", "format": "date-time"}
OBJ: Schema = {"type": "object"}
ERROR: Schema = {"$ref": "#/components/schemas/Error"}


def obj(required: list[str], **props: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": props}


def responses(ok_status: int = 200, ok: Schema = OBJ, *errors: int) -> dict[str, Any]:
    media = ok.get("contentMediaType", "application/json")
    out: dict[str, Any] = {str(ok_status): {"description": "OK", "content": {media: {"schema": ok}}}}
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


ID: Schema = {"type": "integer", "minimum": 0, "maximum": 999_999_999, "description": "an id: at most 9 digits"}


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def query(name: str, schema: Schema, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}



_SCALARS: dict[Any, Schema] = {int: {"type": "integer"}, str: {"type": "string"}, bool: {"type": "boolean"},
                               float: {"type": "number"}, datetime: {"type": "string", "format": "date-time"},
                               date: {"type": "string", "format": "date"}}


def _nullable(schema: Schema) -> Schema:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return {**schema, "type": [*kinds, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def of_type(kind: Any) -> Schema:
    """The schema of a value of the annotation `kind`, as `encoding.plain` writes it."""
    if kind in _SCALARS:
        return dict(_SCALARS[kind])
    if kind is Any or kind is object:
        return {}
    if isinstance(kind, type) and issubclass(kind, Enum):
        return {"enum": [e.value for e in kind]}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return record(kind)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        present = [a for a in args if a is not type(None)]
        inner = of_type(present[0]) if len(present) == 1 else {"anyOf": [of_type(a) for a in present]}
        return _nullable(inner) if len(present) < len(args) else inner
    if origin in (list, set, frozenset) or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        return {"type": "array", "items": of_type(args[0]) if args else {}}
    if origin is tuple:
        return {"type": "array", "prefixItems": [of_type(a) for a in args], "minItems": len(args),
                "maxItems": len(args)}
    if origin is dict or kind is dict:
        return {"type": "object", "additionalProperties": of_type(args[1]) if args else {}}
    if origin is typing.Literal:
        return {"enum": list(args)}
    raise TypeError(f"no JSON schema for {kind!r}")


def record(cls: type, omit: tuple[str, ...] = (), **extra: Schema) -> Schema:
    """The schema of `plain(cls(...))`: an object with every field (all required, as `plain` writes them
    all), without the `omit`ted ones (a route that leaves them out), with `extra` fields a route adds."""
    hints = typing.get_type_hints(cls)
    props = {f.name: of_type(hints[f.name]) for f in dataclasses.fields(cls) if f.name not in omit}
    return {"type": "object", "required": list(props), "properties": {**props, **extra}}


def array(schema: Schema) -> Schema:
    return {"type": "array", "items": schema}
