"""Encoding answers: records as JSON, redirects after a form. One place, so every route answers alike."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from enum import Enum
from typing import Any

from starlette.responses import JSONResponse, RedirectResponse

from web.usecases.checkin import Shown


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


class Answer(JSONResponse):
    """A JSON answer as Starlette's (UTF-8, no NaN, compact), through one encoder made once: `json.dumps` with
    options builds a new encoder for every call (about 6 µs of a check-in)."""

    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    def render(self, content: Any) -> bytes:
        return self.encoder.encode(content).encode("utf-8")


def ok(value: Any, status_code: int = 200) -> JSONResponse:
    return Answer(plain(value), status_code=status_code)


_FIELDS: dict[type, tuple[str, ...]] = {}


def flat(record: Any) -> dict[str, Any]:
    """`plain(record)` for a flat record (a check-in, a card) without the generic walk, which cost every
    check-in answer (two records, then `ok()` walking the result again) about 40 µs of the event loop."""
    names = _FIELDS.get(type(record))
    if names is None:
        names = _FIELDS[type(record)] = tuple(f.name for f in dataclasses.fields(record))
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(record, name)
        if value is None or type(value) in (str, int, float, bool):
            out[name] = value
        elif isinstance(value, Enum):
            out[name] = value.value
        elif isinstance(value, datetime):
            out[name] = value.isoformat()
        else:
            out[name] = plain(value)
    return out


def see_other(url: str) -> RedirectResponse:
    """The answer to a form that did its work: go there (303, so a reload does not post again)."""
    return RedirectResponse(url, status_code=303)


def verdict_json(shown: Shown) -> dict[str, Any]:
    """A verdict as the kiosk shows it, ready for JSON (the API's answer and the camera socket's `verdict`)."""
    verdict = shown.verdict
    return {
        "outcome": verdict.outcome.value,
        "reason": verdict.reason.value if verdict.reason else None,
        "message": shown.message,
        "person": flat(shown.card) if shown.card else None,
        "checkin": flat(verdict.checkin) if verdict.checkin else None,
    }
