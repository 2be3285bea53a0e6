"""The live protocol's published contract (/api/asyncapi.json) as the tests use it: the official AsyncAPI
3.0.0 JSON schema (vendored in tests/data, checked with jsonschema) and a check of every server frame
against the document's payload schemas (with jsonschema-rs: a 400-row snapshot in 2 ms of CPU, where
jsonschema takes 65 ms, so the whole suite's frames stay cheap to check)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft7Validator

from web.live.contract import document

ASYNCAPI_SCHEMA = Path(__file__).parent / "data" / "asyncapi-3.0.0.schema.json"


@cache
def asyncapi_validator() -> Draft7Validator:
    return Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))


@cache
def _server_payloads() -> dict[str, jsonschema_rs.Draft7Validator]:
    messages = document()["components"]["messages"]
    return {m["name"]: jsonschema_rs.Draft7Validator(m["payload"]) for i, m in messages.items()
            if i.startswith("server_")}


def frame_problem(text: str) -> str | None:
    """Why the server frame `text` breaks the document's schema of its type (None: it follows it)."""
    try:
        value: Any = json.loads(text)
    except ValueError:
        return f"not JSON: {text[:200]}"
    validator = _server_payloads().get(value.get("type") if isinstance(value, dict) else None)
    if validator is None:
        return f"no server message of this type: {text[:200]}"
    if validator.is_valid(value):
        return None
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message[:300]}" for e in validator.iter_errors(value)]
    return f"{'; '.join(errors[:3])} in {text[:300]}"
