"""`hoinghi kiosk`: a hall PC with a USB camera (or a recorded video) as a check-in kiosk.

It speaks the same protocol as the kiosk page: one WebSocket to the live hub (`/ws`), `hello` with the
device token, `camera` for the session, then JPEG frames (fitted into 640×480) as binary messages at a
bounded rate with at most one frame unanswered; every verdict is printed, in Vietnamese, one line each.
OpenCV captures and encodes; nothing here touches the database.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np
import numpy.typing as npt
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

FRAME_W, FRAME_H = 640, 480
JPEG_QUALITY = 75
IN_FLIGHT_SECONDS = 1.5  # an unanswered frame stops holding the next one back after this
DRAIN_SECONDS = 3.0  # after a video ends, how long to wait for the last answers
RECONNECT_MAX_SECONDS = 10.0
Frame = npt.NDArray[np.uint8]

MARKS = {"accepted": "✔", "repeat": "↺", "refused": "✘"}


class KioskFailed(Exception):
    """An expected failure, said in one line: the server cannot be reached, the token or the session
    is refused, the camera or the video cannot be opened."""


class TokenRefused(KioskFailed):
    """The device token is unknown or revoked: retrying cannot help."""


@dataclass(frozen=True)
class Options:
    server: str
    token: str
    session_id: int
    camera: int | None = None
    video: Path | None = None
    fps: float = 5.0
    mode: str = "qr"
    lang: str = "vi"


def ws_url(server: str) -> str:
    """`http(s)://host[:port][/prefix]` as the live hub's `ws(s)://…/ws`."""
    parts = urlsplit(server if "://" in server else f"http://{server}")
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise KioskFailed(f"--server must be an http:// or https:// address, not {server!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


def fit(frame: Frame) -> Frame:
    """A frame scaled down (never up) to fit 640×480, keeping its proportions."""
    height, width = frame.shape[:2]
    scale = min(1.0, FRAME_W / width, FRAME_H / height)
    if scale >= 1.0:
        return frame
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def encode(frame: Frame) -> bytes:
    ok, data = cv2.imencode(".jpg", fit(frame), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise KioskFailed("OpenCV could not encode a camera frame as JPEG")
    return bytes(data.tobytes())


def line(message: dict[str, Any], now: datetime | None = None) -> str | None:
    """What the terminal shows for a server message, or None for one it does not show."""
    stamp = (now or datetime.now()).strftime("%H:%M:%S")
    kind = message.get("type")
    if kind == "verdict":
        person = message.get("person") or {}
        mark = MARKS.get(str(message.get("outcome")), "?")
        text = str(message.get("message", ""))
        if message.get("outcome") == "accepted" and person.get("unit_name"):
            text += f" · {person['unit_name']}"
        elif message.get("outcome") != "accepted" and person.get("full_name"):
            text = f"{person['full_name']}: {text}"
        return f"{stamp}  {mark} {text}"
    if kind == "face_confirm":
        return f"{stamp}  ? {message.get('message', '')} (xác nhận trên trang điểm danh của thư ký)"
    if kind == "error" and message.get("code") != "bad_frame":
        return f"{stamp}  ! {message.get('message', '')}"
    return None


class Frames:
    """Frames from a camera (the newest, stale ones skipped) or from a video file (at its own pace)."""

    def __init__(self, camera: int | None, video: Path | None) -> None:
        if video is not None and not video.is_file():
            raise KioskFailed(f"no such video file: {video}")
        self.live = video is None
        self.capture = cv2.VideoCapture(str(video)) if video is not None else cv2.VideoCapture(camera or 0)
        if not self.capture.isOpened():
            raise KioskFailed(f"cannot open {'video ' + str(video) if video else f'camera {camera or 0}'}")
        if self.live:
            self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, FRAME_W)
            self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, FRAME_H)
        rate = self.capture.get(cv2.CAP_PROP_FPS)
        self.rate = rate if 1 <= rate <= 120 else 25.0
        self.wanted = True  # set by the sender: whether the next grabbed camera frame should be decoded

    def __iter__(self) -> Iterator[Frame | None]:
        """Every frame as it becomes due: a camera's as they come, a video's at its frame rate. A camera
        yields None for a frame it grabbed but was not asked to decode (see `wanted`)."""
        start = time.monotonic()
        n = 0
        while True:
            if self.live:
                if not self.capture.grab():
                    raise KioskFailed("the camera stopped sending pictures")
                ok, frame = self.capture.retrieve() if self.wanted else (True, None)
            else:
                due = start + n / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                ok, frame = self.capture.read()
                if not ok:
                    return
            n += 1
            yield np.asarray(frame, dtype=np.uint8) if ok and frame is not None else None

    def close(self) -> None:
        self.capture.release()


class Session:
    """One connection to the hub, with a reader thread that prints verdicts and frees the next frame."""

    def __init__(self, options: Options, out: TextIO) -> None:
        self.options = options
        self.out = out
        self.answered = threading.Event()
        self.answered.set()
        self.sent_at = 0.0
        self.closed: ConnectionClosed | None = None
        self.ws = self._open()
        self.reader = threading.Thread(target=self._read, name="kiosk-reader", daemon=True)
        self.reader.start()

    def _open(self) -> ClientConnection:
        url = ws_url(self.options.server)
        try:
            ws = connect(url, open_timeout=10, max_size=2**20)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as e:
            raise KioskFailed(f"cannot reach the server at {url}: {e}") from None
        try:
            ws.send(json.dumps({"type": "hello", "v": 1, "device_token": self.options.token}))
            welcome = json.loads(ws.recv(10))
            self.heartbeat = float(welcome.get("heartbeat_s", 20))
            ws.send(json.dumps({"type": "camera", "session_id": self.options.session_id, "mode": self.options.mode,
                                "lang": self.options.lang}))
            ready = json.loads(ws.recv(10))
        except ConnectionClosed as e:
            reason = e.rcvd.reason if e.rcvd else ""
            code = e.rcvd.code if e.rcvd else 0
            if code == 4001:
                raise TokenRefused("the server refused the kiosk token (revoked, or from another server?)") from None
            raise KioskFailed(f"the server closed the connection ({code} {reason})".strip()) from None
        except TimeoutError:
            raise KioskFailed("the server did not answer the kiosk's hello") from None
        if ready.get("type") != "camera":
            ws.close()
            raise KioskFailed(f"the server refused session {self.options.session_id}: {ready.get('message', ready)}")
        return ws

    def _read(self) -> None:
        try:
            for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "read":
                    self.answered.set()
                    continue
                text = line(message)
                if text is not None:
                    print(text, file=self.out, flush=True)
        except ConnectionClosed as e:
            self.closed = e
        self.answered.set()

    def ready_for_frame(self) -> bool:
        return self.answered.is_set() or time.monotonic() - self.sent_at > IN_FLIGHT_SECONDS

    def send(self, frame: bytes) -> None:
        self.answered.clear()
        self.sent_at = time.monotonic()
        self.ws.send(frame)

    def ping(self) -> None:
        self.ws.send('{"type":"ping"}')

    def drain(self) -> None:
        """Wait for the last frame's answer (and its verdicts, sent before it)."""
        self.answered.wait(DRAIN_SECONDS)

    def close(self) -> None:
        self.ws.close()
        self.reader.join(2)


def stream(session: Session, frames: Frames, fps: float) -> None:
    """Send frames at most `fps` a second, one unanswered at a time, pinging the hub as it asks."""
    interval = 1.0 / fps
    last_sent = last_ping = 0.0
    for frame in frames:
        now = time.monotonic()
        if session.closed is not None:
            raise ConnectionClosed(session.closed.rcvd, session.closed.sent)
        if now - last_ping >= session.heartbeat / 2:
            session.ping()
            last_ping = now
        due = now - last_sent >= interval and session.ready_for_frame()
        frames.wanted = due or not frames.live
        if frame is not None and due:
            session.send(encode(frame))
            last_sent = now
    session.drain()


def run(options: Options, out: TextIO, err: TextIO) -> None:
    """Stream until the video ends (or, from a camera, until interrupted). A camera kiosk reconnects
    after a lost connection, with a growing pause; a video run fails instead."""
    if not 0.2 <= options.fps <= 15:
        raise KioskFailed("--fps must be 0.2 to 15")
    frames = Frames(options.camera, options.video)
    backoff, connected = 1.0, False
    try:
        while True:
            try:
                session = Session(options, out)
            except TokenRefused:
                raise
            except KioskFailed as e:
                if not (connected and frames.live):
                    raise
                print(f"hoinghi: {e}; trying again in {backoff:g} s", file=err, flush=True)
                time.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
                continue
            connected, backoff = True, 1.0
            print(f"hoinghi: kiosk connected; session {options.session_id}, {options.mode} mode, "
                  f"{options.fps:g} frames/s" + (" — Ctrl+C to stop" if frames.live else ""), file=err, flush=True)
            try:
                stream(session, frames, options.fps)
                return
            except ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd else 1006
                if code == 4001:
                    raise TokenRefused("the server revoked this kiosk's token") from None
                if not frames.live:
                    raise KioskFailed(f"the connection to the server was lost ({code})") from None
                print(f"hoinghi: connection lost ({code}); reconnecting", file=err, flush=True)
            finally:
                session.close()
    finally:
        frames.close()
