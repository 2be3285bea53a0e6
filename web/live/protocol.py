"""The live hub protocol (docs/PROTOCOL.md), sans I/O: client frames in, typed messages out.

Each message's shape is data in web/live/messages.py: `parse` checks a client frame against its schema
there and builds the typed message; `frame` builds only the server messages named there; and
web/live/contract.py publishes both as /api/asyncapi.json.

Nothing here reads a socket or a clock; the endpoint feeds text in and sends what it is told.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from web.live.messages import CAMERA_MODES as CAMERA_MODES
from web.live.messages import CLIENT, NESTING_MAX, SERVER, TOPIC_PATTERN, Invalid, check, depth
from web.live.messages import FRAME_MAX as FRAME_MAX
from web.live.messages import VERSION as VERSION

TOO_DEEP = f"nested too deeply (at most {NESTING_MAX} levels)"
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
    TOTALS = "totals"  # the session's own unit in counts only (docs/PROTOCOL.md section 2)


_TOPIC = re.compile(TOPIC_PATTERN)


@dataclass(frozen=True)
class Topic:
    session_id: int
    kind: TopicKind
    target: int = 0  # the unit or hall id; 0 for viewer and totals

    def __str__(self) -> str:
        if self.kind in (TopicKind.VIEWER, TopicKind.TOTALS):
            return f"session:{self.session_id}/{self.kind.value}"
        return f"session:{self.session_id}/{self.kind.value}:{self.target}"


def parse_topic(text: str) -> Topic | None:
    match = _TOPIC.match(text)
    if match is None:
        return None
    session, kind, target, whole = match.groups()
    if whole:
        return Topic(int(session), TopicKind(whole))
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


# each client message's typed value, from a frame its schema (web/live/messages.py CLIENT) accepted
_BUILD: dict[str, Callable[[dict[str, Any]], Message]] = {
    "hello": lambda d: Hello(d.get("ticket"), d.get("device_token")),
    "subscribe": lambda d: Subscribe(d["topic"], d.get("since"), d.get("epoch")),
    "unsubscribe": lambda d: Unsubscribe(d["topic"]),
    "ping": lambda d: Ping(),
    "camera": lambda d: Camera(d["session_id"], d.get("mode", "qr"), d.get("lang", "vi")),
    "media_watch": lambda d: MediaWatch(d["session"]),
    "rtc_offer": lambda d: RtcOffer(d["session"], d["role"], d["sdp"], d.get("hall"), d.get("ref")),
    "rtc_candidate": lambda d: RtcCandidate(d["pc"], d.get("candidate", ""), d.get("sdp_mid"),
                                            d.get("sdp_mline_index")),
    "rtc_close": lambda d: RtcClose(d["pc"]),
    "raise_hand": lambda d: RaiseHand(d["session"], d.get("hall"), True),
    "lower_hand": lambda d: RaiseHand(d["session"], d.get("hall"), False),
    "floor": lambda d: FloorControl(d["session"], d["action"], d.get("hall"), tuple(d.get("halls", ()))),
}
# a field whose refusal closes with another code than 4002 ("": the message as a whole)
_CLOSES: dict[str, dict[str, Close]] = {"hello": {"v": Close.BAD_VERSION, "": Close.BAD_AUTH}}


def parse(frame: str | bytes) -> Message:
    """One client frame as a message, or ProtocolError: checked against its schema in
    web/live/messages.py (a field whose value is null counts as absent; unknown fields are ignored)."""
    if len(frame) > FRAME_MAX or (isinstance(frame, str) and len(frame) * 4 > FRAME_MAX
                                  and len(frame.encode("utf-8", "surrogatepass")) > FRAME_MAX):
        raise ProtocolError(Close.TOO_BIG, f"frames are at most {FRAME_MAX} bytes")
    try:
        data = json.loads(frame)
    except RecursionError:
        raise ProtocolError(Close.BAD_MESSAGE, TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(Close.BAD_MESSAGE, "not JSON") from None
    if depth(data) > NESTING_MAX:
        raise ProtocolError(Close.BAD_MESSAGE, TOO_DEEP)
    if not isinstance(data, dict):
        raise ProtocolError(Close.BAD_MESSAGE, "a message is a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT:
        raise ProtocolError(Close.BAD_MESSAGE, "unknown message type")
    data = {k: v for k, v in data.items() if v is not None}
    try:
        check(CLIENT[kind], data)
    except Invalid as e:
        raise ProtocolError(_CLOSES.get(kind, {}).get(e.path, Close.BAD_MESSAGE), e.message) from None
    return _BUILD[kind](data)


frame_check: Callable[[str], None] | None = None  # a test session's check of every server frame built


def frame(kind: str, **fields: Any) -> str:
    """A server frame, encoded once; `kind` is one of web/live/messages.py SERVER."""
    if kind not in SERVER:
        raise ValueError(f"no server message {kind!r} in web/live/messages.py")
    text = json.dumps({"type": kind, **fields}, ensure_ascii=False, separators=(",", ":"), default=str)
    if frame_check is not None:
        frame_check(text)
    return text
