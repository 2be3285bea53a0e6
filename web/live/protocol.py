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
RATE_PER_SECOND = 20.0  # messages a connection may send, sustained (a kiosk's camera sends 5 frames a second)
RATE_BURST = 100  # and at once (a page's subscriptions and ICE candidates after a reconnect)


class Close(IntEnum):
    GOING_AWAY = 1001
    TRY_AGAIN = 1013  # the hub cannot reach its database for now
    BAD_VERSION = 4000
    BAD_AUTH = 4001
    BAD_MESSAGE = 4002
    TOO_BIG = 4003
    NO_HEARTBEAT = 4008
    SLOW_CONSUMER = 4009
    TOO_MANY = 4029  # more than RATE_BURST messages at once, or RATE_PER_SECOND sustained


class ProtocolError(Exception):
    """A frame that breaks the protocol: the connection is closed with `close`."""

    def __init__(self, close: Close, message: str) -> None:
        super().__init__(message)
        self.close = close
        self.message = message


class TooManyMessages(Exception):
    """A connection sent messages faster than `Rate` allows (web/http/errors.py answers it 429 / 4029)."""

    code = "too_many_messages"

    def __init__(self, message: str = f"at most {RATE_PER_SECOND:.0f} messages a second") -> None:
        super().__init__(message)
        self.message = message


class Rate:
    """A token bucket per connection: `take(now)` for each message it sends, TooManyMessages when empty.
    `now` is monotonic seconds, given by the caller (no clock here)."""

    __slots__ = ("at", "tokens")

    def __init__(self, now: float) -> None:
        self.tokens = float(RATE_BURST)
        self.at = now

    def take(self, now: float) -> None:
        self.tokens = min(float(RATE_BURST), self.tokens + (now - self.at) * RATE_PER_SECOND)
        self.at = now
        if self.tokens < 1.0:
            raise TooManyMessages()
        self.tokens -= 1.0


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


@dataclass(frozen=True)
class Camera:
    """A kiosk starts (or retargets) its camera: the binary frames that follow are JPEG pictures of
    `session_id`, read for QR codes (and faces in mode "face"); verdicts come back as `verdict`."""

    session_id: int
    mode: str  # one of CAMERA_MODES
    lang: str


CAMERA_MODES = ("qr", "face")
BINARY_FRAME_MAX = 256 * 1024  # a 640×480 JPEG is 20–60 KiB
WS_MAX_SIZE = BINARY_FRAME_MAX + 1024  # what the server reads of one WebSocket message (`hoinghi serve`)


# -- media signalling (docs/PROTOCOL.md section 7), handled by the media service ---------------------
@dataclass(frozen=True)
class RtcOffer:
    session: int
    role: str  # "publish" or "view"
    sdp: str
    hall: int | None = None  # a hall publishing because it has the floor
    ref: str | None = None  # the client's name for this negotiation, echoed in the answer


@dataclass(frozen=True)
class RtcCandidate:
    pc: str
    candidate: str  # "candidate:…", or "" at the end of candidates
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


@dataclass(frozen=True)
class RtcClose:
    pc: str


@dataclass(frozen=True)
class MediaWatch:
    session: int


@dataclass(frozen=True)
class RaiseHand:
    session: int
    hall: int | None
    up: bool  # raise_hand: True, lower_hand: False


@dataclass(frozen=True)
class FloorControl:
    session: int
    action: str  # "give", "take_back" or "order"
    hall: int | None = None
    halls: tuple[int, ...] = ()


MediaMessage = RtcOffer | RtcCandidate | RtcClose | MediaWatch | RaiseHand | FloorControl
MEDIA_MESSAGES = (RtcOffer, RtcCandidate, RtcClose, MediaWatch, RaiseHand, FloorControl)

Message = Hello | Subscribe | Unsubscribe | Ping | Camera | MediaMessage


def _string(data: dict[str, Any], name: str, required: bool = True, limit: int = 4096) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProtocolError(Close.BAD_MESSAGE, f"{name} must be a non-empty string")
    return value


def _id(data: dict[str, Any], name: str, required: bool = True) -> int | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 10**9:
        raise ProtocolError(Close.BAD_MESSAGE, f"{name} must be a positive integer")
    return value


def _media(kind: str, data: dict[str, Any]) -> MediaMessage | None:
    if kind == "rtc_offer":
        role = data.get("role")
        if role not in ("publish", "view"):
            raise ProtocolError(Close.BAD_MESSAGE, "role is publish or view")
        sdp = _string(data, "sdp", limit=FRAME_MAX)
        session = _id(data, "session")
        assert sdp is not None and session is not None
        return RtcOffer(session, role, sdp, _id(data, "hall", False), _string(data, "ref", False, limit=64))
    if kind == "rtc_candidate":
        pc = _string(data, "pc", limit=64)
        candidate = data.get("candidate", "")
        mline = data.get("sdp_mline_index")
        if not isinstance(candidate, str) or len(candidate) > 1024 or (
                mline is not None and (not isinstance(mline, int) or isinstance(mline, bool) or not 0 <= mline < 16)):
            raise ProtocolError(Close.BAD_MESSAGE, "candidate is a string, sdp_mline_index a small integer")
        assert pc is not None
        return RtcCandidate(pc, candidate, _string(data, "sdp_mid", False, limit=32), mline)
    if kind == "rtc_close":
        pc = _string(data, "pc", limit=64)
        assert pc is not None
        return RtcClose(pc)
    if kind == "media_watch":
        session = _id(data, "session")
        assert session is not None
        return MediaWatch(session)
    if kind in ("raise_hand", "lower_hand"):
        session = _id(data, "session")
        assert session is not None
        return RaiseHand(session, _id(data, "hall", False), kind == "raise_hand")
    if kind == "floor":
        session = _id(data, "session")
        action = data.get("action")
        halls = data.get("halls", [])
        if action not in ("give", "take_back", "order") or not isinstance(halls, list) or len(halls) > 1000:
            raise ProtocolError(Close.BAD_MESSAGE, "action is give, take_back or order; halls a list")
        assert session is not None
        ids = tuple(_id({"hall": h}, "hall") or 0 for h in halls)
        hall = _id(data, "hall", action == "give")
        if action == "order" and not ids:
            raise ProtocolError(Close.BAD_MESSAGE, "order needs halls")
        return FloorControl(session, action, hall, ids)
    return None


def parse(frame: str | bytes) -> Message:
    """One client frame as a message, or ProtocolError."""
    if len(frame) > FRAME_MAX or (isinstance(frame, str) and len(frame) * 4 > FRAME_MAX
                                  and len(frame.encode("utf-8", "surrogatepass")) > FRAME_MAX):
        raise ProtocolError(Close.TOO_BIG, f"frames are at most {FRAME_MAX} bytes")
    try:
        data = json.loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
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
    if kind == "camera":
        session_id = _id(data, "session_id")
        assert session_id is not None
        mode = data.get("mode", "qr")
        if mode not in CAMERA_MODES:
            raise ProtocolError(Close.BAD_MESSAGE, f"mode must be one of {', '.join(CAMERA_MODES)}")
        return Camera(session_id, mode, "en" if data.get("lang") == "en" else "vi")
    media = _media(kind, data) if isinstance(kind, str) else None
    if media is not None:
        return media
    raise ProtocolError(Close.BAD_MESSAGE, "unknown message type")


def frame(kind: str, **fields: Any) -> str:
    """A server frame, encoded once."""
    return json.dumps({"type": kind, **fields}, ensure_ascii=False, separators=(",", ":"), default=str)
