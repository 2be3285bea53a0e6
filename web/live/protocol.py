"""The live hub protocol (docs/PROTOCOL.md), sans I/O: client frames in, typed messages out.

Nothing here reads a socket or a clock; the endpoint feeds text in and sends what it is told.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

VERSION = 1
FRAME_MAX = 16 * 1024
TOPICS_MAX = 20
HEARTBEAT_S = 20


class Close(IntEnum):
    GOING_AWAY = 1001
    BAD_VERSION = 4000
    BAD_AUTH = 4001
    BAD_MESSAGE = 4002
    TOO_BIG = 4003
    NO_HEARTBEAT = 4008
    SLOW_CONSUMER = 4009


class ProtocolError(Exception):
    """A frame that breaks the protocol: the connection is closed with `close`."""

    def __init__(self, close: Close, message: str) -> None:
        super().__init__(message)
        self.close = close
        self.message = message


class TopicKind(StrEnum):
    UNIT = "unit"
    HALL = "hall"
    VIEWER = "viewer"


_TOPIC = re.compile(r"^session:(\d{1,9})/(?:(unit|hall):(\d{1,9})|(viewer))$")


@dataclass(frozen=True)
class Topic:
    session_id: int
    kind: TopicKind
    target: int = 0  # the unit or hall id; 0 for viewer

    def __str__(self) -> str:
        if self.kind is TopicKind.VIEWER:
            return f"session:{self.session_id}/viewer"
        return f"session:{self.session_id}/{self.kind.value}:{self.target}"


def parse_topic(text: str) -> Topic | None:
    match = _TOPIC.match(text)
    if match is None:
        return None
    session, kind, target, viewer = match.groups()
    if viewer:
        return Topic(int(session), TopicKind.VIEWER)
    return Topic(int(session), TopicKind(kind), int(target))


@dataclass(frozen=True)
class Hello:
    ticket: str | None
    device_token: str | None


@dataclass(frozen=True)
class Subscribe:
    topic: str
    since: int | None
    epoch: str | None = None


@dataclass(frozen=True)
class Unsubscribe:
    topic: str


@dataclass(frozen=True)
class Ping:
    pass


Message = Hello | Subscribe | Unsubscribe | Ping


def _string(data: dict[str, Any], name: str, required: bool = True, limit: int = 4096) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProtocolError(Close.BAD_MESSAGE, f"{name} must be a non-empty string")
    return value


def parse(frame: str | bytes) -> Message:
    """One client frame as a message, or ProtocolError."""
    if len(frame) > FRAME_MAX:
        raise ProtocolError(Close.TOO_BIG, f"frames are at most {FRAME_MAX} bytes")
    try:
        data = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(Close.BAD_MESSAGE, "not JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(Close.BAD_MESSAGE, "a message is a JSON object")
    kind = data.get("type")
    if kind == "hello":
        if data.get("v") != VERSION:
            raise ProtocolError(Close.BAD_VERSION, f"this hub speaks version {VERSION}")
        ticket, token = _string(data, "ticket", False), _string(data, "device_token", False)
        if (ticket is None) == (token is None):
            raise ProtocolError(Close.BAD_AUTH, "hello needs a ticket or a device_token")
        return Hello(ticket, token)
    if kind == "subscribe":
        since = data.get("since")
        if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
            raise ProtocolError(Close.BAD_MESSAGE, "since must be a non-negative integer")
        topic = _string(data, "topic", limit=100)
        assert topic is not None
        return Subscribe(topic, since, _string(data, "epoch", False, limit=100))
    if kind == "unsubscribe":
        topic = _string(data, "topic", limit=100)
        assert topic is not None
        return Unsubscribe(topic)
    if kind == "ping":
        return Ping()
    raise ProtocolError(Close.BAD_MESSAGE, "unknown message type")


def frame(kind: str, **fields: Any) -> str:
    """A server frame, encoded once."""
    return json.dumps({"type": kind, **fields}, ensure_ascii=False, separators=(",", ":"), default=str)
