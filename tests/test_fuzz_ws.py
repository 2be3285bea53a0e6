"""The live WebSocket protocol (docs/PROTOCOL.md) fuzzed with hypothesis: the pure parser, then `/ws` itself.

`protocol.parse` turns any text into a typed, well-formed message or a ProtocolError carrying a documented
close code, never another exception. Through a real uvicorn server and real sockets, generated frames
(known and unknown types, right and wrong fields, huge strings, deep nesting, binary frames), before and
after hello, as a kiosk and as the administrator, are answered with documented frames or a documented close
(never 1011, never an error in the server's log), and a fresh connection is welcomed afterwards.
Derandomized; HOINGHI_FUZZ_EXAMPLES scales the example counts (README: Fuzzing).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import qrcode
import uvicorn
from hypothesis import HealthCheck, example, given, settings
from hypothesis import core as hypothesis_core
from hypothesis import strategies as st
from hypothesis.vendor import pretty
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.browser import free_port
from tests.world import World, build_world, sign_in
from web.app import create_app
from web.live import protocol
from web.live.messages import CLIENT, SERVER
from web.live.protocol import Close, ProtocolError
from web.settings import load

SCALE = int(os.environ.get("HOINGHI_FUZZ_EXAMPLES", "15"))
FUZZ = settings(derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])

CLIENT_FAULTS = {Close.BAD_VERSION, Close.BAD_AUTH, Close.BAD_MESSAGE, Close.TOO_BIG}  # docs/PROTOCOL.md section 5
SERVER_FRAMES = set(SERVER)  # the server messages of /api/asyncapi.json (each frame checked by tests/conftest.py)
CLIENT_TYPES = sorted(CLIENT)
FIELDS = ["v", "ticket", "device_token", "topic", "since", "epoch", "session_id", "mode", "lang", "session", "role",
          "sdp", "hall", "halls", "ref", "pc", "candidate", "sdp_mid", "sdp_mline_index", "action"]

# -- what a client might send ------------------------------------------------------------------------
IDS = st.sampled_from([1, 2, 3, 0, -1, 10**9 - 1, 10**9, 2**31, 2**63, 10**30]) | st.integers()
HUGE = st.integers(16_000, 40_000).map(lambda n: "x" * n)  # over the 16 KiB a client frame may have
SCALAR = st.none() | st.booleans() | IDS | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
JSON = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=4), max_leaves=10)
TOPIC = st.builds("session:{}/{}".format, IDS, st.sampled_from(["unit:1", "hall:1", "hall:2", "viewer", "unit:x"]))
WORDS = st.sampled_from(["qr", "face", "vi", "en", "publish", "view", "give", "take_back", "order", "v=0\r\n", "0",
                         "candidate:1 1 udp 1 10.0.0.1 9 typ host", "h1-1"])
VALUE = JSON | TOPIC | WORDS | st.lists(IDS, max_size=3) | HUGE
MESSAGE = st.builds(lambda kind, fields: {**fields, "type": kind},
                    st.sampled_from(CLIENT_TYPES) | st.text(max_size=8),
                    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), VALUE, max_size=6))
TEXT_FRAME = (MESSAGE.map(json.dumps) | JSON.map(json.dumps) | st.text(max_size=40)
              | st.sampled_from(["[" * 10_000, '{"type":' * 1_500, "\ufeff{}", "{} {}", '{"type": NaN}']) | HUGE)
BINARY_FRAME = (st.binary(max_size=64) | st.binary(max_size=64).map(lambda b: b"\xff\xd8\xff" + b)
                | st.integers(200_000, 300_000).map(lambda n: b"\xff\xd8\xff" + bytes(n)))
FRAME = TEXT_FRAME | BINARY_FRAME


def jpeg_of_qr(text: str) -> bytes:
    """A camera frame that decodes, showing one QR code."""
    out = io.BytesIO()
    qrcode.make(text).get_image().convert("L").save(out, "JPEG")
    return out.getvalue()


# well-typed messages with generated values: they keep the socket open, so later frames meet a hub,
# a camera, a media session in some state
SMALL = st.integers(1, 3)
NEAR_TOPIC = st.builds("session:{}/{}".format, SMALL,
                       st.sampled_from(["unit:1", "unit:4", "hall:1", "hall:2", "viewer"]))
PLAUSIBLE = st.one_of(
    st.builds(lambda t, s: {"type": "subscribe", "topic": t, "since": s}, NEAR_TOPIC, st.none() | st.integers(0, 5)),
    st.builds(lambda s, m: {"type": "camera", "session_id": s, "mode": m}, SMALL, st.sampled_from(["qr", "face"])),
    st.builds(lambda s: {"type": "media_watch", "session": s}, SMALL),
    st.builds(lambda s, a, h: {"type": "floor", "session": s, "action": a, "hall": h, "halls": [h]}, SMALL,
              st.sampled_from(["give", "take_back", "order"]), SMALL),
    st.builds(lambda k, s, h: {"type": k, "session": s, "hall": h}, st.sampled_from(["raise_hand", "lower_hand"]),
              SMALL, st.none() | SMALL),
    st.builds(lambda s, r, sdp: {"type": "rtc_offer", "session": s, "role": r, "sdp": sdp, "ref": "r"}, SMALL,
              st.sampled_from(["publish", "view"]), st.sampled_from(["v=0\r\n", "x", "v=0\r\nm=video 9 RTP/AVP 96"])),
    st.builds(lambda pc, c: {"type": "rtc_candidate", "pc": pc, "candidate": c}, st.text(min_size=1, max_size=8),
              WORDS),
    st.builds(lambda pc: {"type": "rtc_close", "pc": pc}, st.text(min_size=1, max_size=8)),
    st.builds(lambda t: {"type": "unsubscribe", "topic": t}, NEAR_TOPIC),
    st.just({"type": "ping"}),
).map(json.dumps) | st.sampled_from([jpeg_of_qr("xin chào"), jpeg_of_qr("HN1.abc.def")])


@pytest.fixture(autouse=True, scope="module")
def readable_failures() -> Iterator[None]:
    """Once loaded, schemathesis swaps Hypothesis's printer for one that prints nothing (for its speed; see
    schemathesis.generation.hypothesis.setup): put the real one back, so that a failing example here shows
    its frames."""
    swapped = hypothesis_core.RepresentationPrinter  # type: ignore[attr-defined]
    hypothesis_core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[attr-defined]
    yield
    hypothesis_core.RepresentationPrinter = swapped  # type: ignore[attr-defined]


# -- the parser, without a socket ----------------------------------------------------------------------
def well_formed(message: protocol.Message) -> None:
    """What the endpoint and the hub rely on in a parsed message."""
    assert isinstance(message, (protocol.Hello, protocol.Subscribe, protocol.Unsubscribe, protocol.Ping,
                                protocol.Camera, *protocol.MEDIA_MESSAGES)), message
    for f in dataclasses.fields(message):
        value = getattr(message, f.name)
        if f.name in ("session", "session_id", "hall"):
            assert value is None or (type(value) is int and 0 < value < 10**9), message
        if f.name == "halls":
            assert all(type(h) is int and 0 < h < 10**9 for h in value), message
        if f.name == "since":
            assert value is None or (type(value) is int and value >= 0), message
        if f.name in ("ticket", "device_token", "topic", "epoch", "sdp", "pc", "ref", "sdp_mid"):
            assert value is None or (isinstance(value, str) and value), message
    if isinstance(message, protocol.Hello):
        assert (message.ticket is None) != (message.device_token is None)
    if isinstance(message, protocol.Camera):
        assert message.mode in protocol.CAMERA_MODES and message.lang in ("vi", "en")


def parsed_or_refused(frame: str | bytes) -> protocol.Message | None:
    try:
        message = protocol.parse(frame)
    except ProtocolError as refused:
        assert refused.close in CLIENT_FAULTS and refused.message, refused
        return None
    well_formed(message)
    size = len(frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame)
    assert size <= protocol.FRAME_MAX, "a frame over 16 KiB was accepted"
    return message


@settings(FUZZ, max_examples=100 * SCALE)
@given(st.one_of(TEXT_FRAME, st.binary(max_size=200), st.text()))
@example("[" * 10_000)  # once a RecursionError out of json.loads
@example('{"type": "camera", "session_id": 9223372036854775808}')  # once a Camera no store could look up
@example(b"\xff\xfe{\x00}\x00")  # UTF-16 with a BOM
@example(json.dumps({"type": "ping", "pad": "ế" * 6_000}, ensure_ascii=False))  # 6,000 characters, 18 KiB
def test_parse_types_or_refuses_any_text(frame: str | bytes) -> None:
    parsed_or_refused(frame)


@settings(FUZZ, max_examples=100 * SCALE)
@given(MESSAGE)
def test_parse_types_or_refuses_any_message(message: dict[str, Any]) -> None:
    parsed = parsed_or_refused(json.dumps(message))
    if parsed is not None and len(json.dumps(message)) <= protocol.FRAME_MAX:
        assert message["type"] in CLIENT_TYPES


POSITIVE = st.integers(1, 10**9 - 1)
TOKEN = st.text(min_size=1, max_size=100)


@settings(FUZZ, max_examples=20 * SCALE)
@given(st.one_of(
    st.builds(lambda t: ({"type": "hello", "v": 1, "ticket": t}, protocol.Hello(t, None)), TOKEN),
    st.builds(lambda t: ({"type": "hello", "v": 1, "device_token": t}, protocol.Hello(None, t)), TOKEN),
    st.builds(lambda t, s: ({"type": "subscribe", "topic": t, "since": s}, protocol.Subscribe(t, s)), TOKEN,
              st.none() | st.integers(0, 2**62)),
    st.builds(lambda s, m: ({"type": "camera", "session_id": s, "mode": m, "lang": "en"},
                            protocol.Camera(s, m, "en")), POSITIVE, st.sampled_from(protocol.CAMERA_MODES)),
    st.builds(lambda s, h: ({"type": "floor", "session": s, "action": "order", "halls": h},
                            protocol.FloorControl(s, "order", None, tuple(h))), POSITIVE,
              st.lists(POSITIVE, min_size=1, max_size=5)),
    st.just(({"type": "ping", "extra": [1, {"a": None}]}, protocol.Ping())),
))
def test_parse_accepts_every_valid_message(case: tuple[dict[str, Any], protocol.Message]) -> None:
    sent, expected = case
    assert protocol.parse(json.dumps(sent)) == expected


# -- the endpoint, through a real server ---------------------------------------------------------------
class ErrorLog(logging.Handler):
    """Every ERROR the server logs (an exception in the ASGI app, a failed task, a failed media message)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        taken, self.records = self.records, []
        return [f"{r.name}: {r.getMessage()}" for r in taken]


@dataclass
class Served:
    url: str
    world: World
    http: httpx2.Client  # signed in as the administrator
    csrf: str
    errors: ErrorLog

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # a failing example names the server only
        printer.text(f"Served({self.url!r})")

    def ticket(self) -> str:
        response = self.http.post("/api/live/ticket", headers={"X-CSRF-Token": self.csrf})
        assert response.status_code == 200, response.text
        return str(response.json()["ticket"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real app under uvicorn in a thread of its own, with the test province in it."""
    path: Path = tmp_path_factory.mktemp("ws") / "app.db"
    app = create_app(load({}, None, database_url=f"sqlite:///{path}", secret_key="w" * 40, password_time_cost=1,
                          password_memory_kib=8192, face_workers=0))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning",
                                           ws_per_message_deflate=False))
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzzed-server", daemon=True)
    thread.start()
    serving = asyncio.run_coroutine_threadsafe(server.serve(), loop)
    try:
        for _ in range(500):
            if server.started or serving.done():
                break
            threading.Event().wait(0.02)
        assert server.started, serving.exception() if serving.done() else "the server did not start"
        world = asyncio.run_coroutine_threadsafe(build_world(app.state.services), loop).result(60)
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}") as http:
            csrf = sign_in(http, "admin")  # type: ignore[arg-type]  # the same client API as TestClient
            yield Served(f"ws://127.0.0.1:{port}/ws", world, http, csrf, errors)
    finally:
        server.should_exit = True
        serving.result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        logging.getLogger().removeHandler(errors)


def opened(served: Served) -> ClientConnection:
    return connect(served.url, compression=None, max_size=None, open_timeout=10, close_timeout=5)


def said(ws: ClientConnection, frame: str | bytes) -> bool:
    """Send a frame; False when the server has already closed the socket."""
    try:
        ws.send(frame)
    except ConnectionClosed:
        return False
    return True


def answers(ws: ClientConnection, until: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Frames read until one of type `until` (or the close), and the close code (None: still open)."""
    got: list[dict[str, Any]] = []
    try:
        while True:
            raw = ws.recv(timeout=15)
            assert isinstance(raw, str), f"a binary frame from the server: {raw[:40]!r}"
            message = json.loads(raw)
            assert isinstance(message, dict) and message.get("type") in SERVER_FRAMES, raw[:300]
            got.append(message)
            if message["type"] == until:
                return got, None
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server dropped the connection without a close frame"
        return got, closed.rcvd.code
    except TimeoutError:
        raise AssertionError(f"the server neither answered nor closed; read so far: {got}") from None


def welcomed(served: Served) -> None:
    """A fresh kiosk connection: hello, welcome, ping, pong."""
    with opened(served) as ws:
        ws.send(json.dumps({"type": "hello", "v": 1, "device_token": served.world.kiosk_token}))
        hello, _ = answers(ws, "welcome")
        assert [m["type"] for m in hello] == ["welcome"]
        ws.send(json.dumps({"type": "ping"}))
        assert answers(ws, "pong")[0][-1]["type"] == "pong"


@settings(FUZZ, max_examples=20 * SCALE)
@given(FRAME)
@example(b"\xff\xd8\xff")
@example(json.dumps({"type": "hello", "v": 1, "ticket": "x", "device_token": "y"}))
def test_before_hello_a_bad_first_frame_closes_with_its_code(served: Served, first: str | bytes) -> None:
    with opened(served) as ws:
        said(ws, first)
        got, code = answers(ws)
    assert got == [] and code in CLIENT_FAULTS, (got, code)
    assert served.errors.take() == []
    welcomed(served)


@settings(FUZZ, max_examples=40 * SCALE)
@given(st.sampled_from(["kiosk", "admin"]),
       st.lists(st.one_of(PLAUSIBLE, PLAUSIBLE, MESSAGE.map(json.dumps), FRAME), min_size=1, max_size=8))
@example("kiosk", [json.dumps({"type": "camera", "session_id": 1}), b"\xff\xd8\xff" + bytes(100), b"not a jpeg"])
@example("admin", [json.dumps({"type": "rtc_offer", "session": 1, "role": "publish", "sdp": "v=0\r\n"})])
@example("kiosk", [json.dumps({"type": "camera", "session_id": 2**63})])  # once dropped the connection (OverflowError)
def test_after_hello_every_frame_gets_a_documented_answer_or_close(served: Served, who: str,
                                                                   frames: list[str | bytes]) -> None:
    hello: dict[str, Any] = {"type": "hello", "v": 1}
    hello |= {"device_token": served.world.kiosk_token} if who == "kiosk" else {"ticket": served.ticket()}
    with opened(served) as ws:
        ws.send(json.dumps(hello))
        assert [m["type"] for m in answers(ws, "welcome")[0]] == ["welcome"]
        for frame in frames:
            if not (said(ws, frame) and said(ws, json.dumps({"type": "ping"}))):
                break
            _, code = answers(ws, "pong")  # the ping is a barrier: what the frame caused comes before it
            if code is not None:  # a frame breaking the protocol: malformed, too big, a second bad hello
                assert code in CLIENT_FAULTS, code
                break
    assert served.errors.take() == []
    welcomed(served)
