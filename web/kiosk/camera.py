"""A kiosk's camera over its live-hub connection: binary frames in, verdicts out.

After `{"type": "camera", "session_id": S, "mode": "qr"}` a kiosk sends JPEG pictures as binary
WebSocket messages. For each one the server answers once with `read` (how many codes it found, or
that the frame was dropped), preceded by a `verdict` for every code that deserved a check-in attempt.

- Frames are decoded in the shared `FramePool` threads, never on the event loop.
- One frame per kiosk at a time: a frame that arrives while the previous one is being read (or its
  check-in committed) is dropped, so a kiosk on a slow server never builds up a backlog.
- The same code seen in consecutive frames is attempted once (`RecentCodes`, 3 s).
- A code is checked in exactly as `POST /api/checkins` would (the same use case, `CheckIns.scan`: hall
  and session checks, ledger call, with a nonce), and the verdict is the same object the API answers.
- The device token is checked again before each attempt and each face confirmation (with a name), so a
  revoked kiosk stops within seconds (and its socket is closed on every hub at once: web/live/identity.py).
- In face mode every frame is also offered to the face service's stream (`Biometrics.stream`: its own
  gate, liveness across frames, its process pool), in the background so QR reading keeps its pace. An
  accepted face is checked in like `POST /api/checkins` with method "face" and its distance as
  `face_score` (`CheckIns.face`); a likely match is sent as `face_confirm` for the operator to confirm with a tap; other
  states (observing, come closer, not recognised) as `face` hints, only when they change.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace

from attendance.checkins import Method
from attendance.devices import Device
from attendance.errors import AttendanceError, DeviceRejected
from attendance.face_match import Decision, MatchReason
from attendance.face_service import Identification
from attendance.liveness import LivenessState
from conference.errors import ConferenceError
from web.bootstrap import Services
from web.http.encoding import plain, verdict_json
from web.http.errors import refusal
from web.i18n import translator
from web.kiosk.recent import RecentCodes
from web.kiosk.vision import BadFrame, looks_like_jpeg, qr_texts
from web.live.connections import Conn, spawn
from web.live.protocol import BINARY_FRAME_MAX, Camera, Close, ProtocolError, frame
from web.usecases.biometrics import AuditedStream
from web.usecases.checkin import Actor, ScanRequest, face_scan

log = logging.getLogger(__name__)

REPEAT_WINDOW_SECONDS = 3.0  # the same code again within this time of its last sighting: no new attempt
FPS = 5  # what a kiosk should send; the server keeps up or drops


@dataclass
class CameraLink:
    """The camera of one kiosk connection, for one session."""

    svc: Services
    conn: Conn
    token: str
    session_id: int
    mode: str
    lang: str
    faces: AuditedStream | None = None  # face mode

    def __post_init__(self) -> None:
        self.busy = False
        self.received = 0
        self.dropped = 0
        self.recent = RecentCodes(REPEAT_WINDOW_SECONDS)
        self.face_hint: tuple[str, str] | None = None

    def offer(self, data: bytes) -> None:
        """Take one binary frame from the socket: read it in the background, or drop it while busy.

        Raises ProtocolError for a frame that is too big or not a JPEG picture at all."""
        if len(data) > BINARY_FRAME_MAX:
            raise ProtocolError(Close.TOO_BIG, f"camera frames are at most {BINARY_FRAME_MAX} bytes")
        if not looks_like_jpeg(data):
            raise ProtocolError(Close.BAD_MESSAGE, "binary messages are camera frames: JPEG pictures")
        self.received += 1
        if self.busy:
            self.dropped += 1
            self.conn.push(frame("read", n=self.received, codes=0, dropped=True))
            return
        self.busy = True
        spawn(self._read(self.received, data))

    async def _read(self, n: int, data: bytes) -> None:
        codes = 0
        try:
            try:
                texts = await self.svc.frames.run(qr_texts, data)
            except BadFrame as e:
                self.conn.push(frame("error", code="bad_frame", message=str(e)))
                return
            codes = len(texts)
            now = time.monotonic()
            if self.faces is not None:
                spawn(self._faces(data, now))
            for text in texts:
                if self.recent.fresh(text, now):
                    await self._check_in(ScanRequest(self.session_id, credential=text, method=Method.QR), text)
        except Exception:  # a bug or a lost database: the kiosk hears of it, the socket lives on
            log.exception("camera frame of device %s failed", self.conn.device.id if self.conn.device else "?")
            self.conn.push(frame("error", code="unavailable", message="the frame could not be processed"))
        finally:
            self.busy = False
            self.conn.push(frame("read", n=n, codes=codes, dropped=False))

    async def _device(self) -> Device | None:
        """The kiosk, checked again (cached for seconds): a revoked key closes the socket."""
        try:
            return await self.svc.devices.authenticate(self.token)
        except DeviceRejected as e:
            self.conn.close_soon(Close.BAD_AUTH, e.message)
            return None

    async def _check_in(self, asked: ScanRequest, key: str) -> None:
        """One attempt through the check-in use case, with a nonce, as `POST /api/checkins` makes it; `key`
        is what `recent` knows the sighting by."""
        device = await self._device()
        if device is None:
            return
        nonce = f"cam-{device.id}-{uuid.uuid4().hex}"
        try:
            shown = await self.svc.checkins.scan(Actor(device, None), replace(asked, nonce=nonce), self.lang)
        except (AttendanceError, ConferenceError) as e:
            self.recent.forget(key)  # not answered: the next sighting tries again
            self.conn.push(frame("error", **refusal(e)))
            return
        source = asked.method.value if asked.method else None  # the camera's scans name their method: qr, face
        self.conn.push(frame("verdict", source=source, nonce=nonce, **verdict_json(shown)))

    async def _faces(self, data: bytes, at: float) -> None:
        """Face mode: the frame into the face stream (dropped there while it is busy), then act on it."""
        assert self.faces is not None
        try:
            found = await self.faces.push(data, at)
        except (AttendanceError, ConferenceError) as e:
            self.conn.push(frame("error", **refusal(e)))
            return
        except Exception:
            log.exception("face frame failed")
            return
        if found is not None:
            await self._identified(found, at)

    async def _identified(self, found: Identification, at: float) -> None:
        t = translator(self.lang)
        decided = False
        for face in found.faces:
            d = face.decision
            if d.person_id is None or d.distance is None:
                continue
            decided = True
            key = f"face:{d.person_id}"
            if not self.recent.fresh(key, at):
                continue
            if d.decision is Decision.ACCEPT:
                await self._check_in(face_scan(self.session_id, d.person_id, d.distance), key)
            elif await self._device() is not None:  # a name only to a kiosk still enrolled
                card = (await self.svc.facts.cards([d.person_id])).get(d.person_id)
                sealed = self.svc.checkins.face_decisions.seal(Actor(self.conn.device, None), self.session_id, d)
                self.conn.push(frame("face_confirm", person=plain(card) if card else None, face_decision=sealed,
                                     face_score=round(float(d.distance), 4), reason=d.reason.value,
                                     message=t("face_msg_confirm", name=card.full_name if card else "")))
        if decided:
            self.face_hint = None
            return
        if found.liveness is LivenessState.OBSERVING:
            hint = ("observing", t("face_msg_liveness"))
        elif found.liveness is LivenessState.FAILED:
            hint = ("liveness_failed", t("face_msg_liveness"))
        elif any(f.decision.reason is MatchReason.TOO_SMALL for f in found.faces):
            hint = ("too_small", t("face_msg_too_small"))
        elif found.faces:
            hint = ("not_recognised", t("face_msg_reject"))
        else:
            hint = ("no_face", "")
        if hint != self.face_hint:
            self.face_hint = hint
            self.conn.push(frame("face", state=hint[0], message=hint[1]))


async def open_camera(svc: Services, conn: Conn, token: str | None, message: Camera) -> CameraLink | None:
    """A camera link for a kiosk's `camera` message, acknowledged with `camera`; None (and an `error`
    frame) when the connection is not a kiosk's or the session is not its hall's."""
    if conn.device is None or token is None:
        conn.push(frame("error", code="forbidden", message="only an enrolled kiosk sends camera frames"))
        return None
    try:
        await svc.checkins.place(Actor(conn.device, None), message.session_id, None)
    except (AttendanceError, ConferenceError) as e:
        conn.push(frame("error", **refusal(e)))
        return None
    faces = None
    if message.mode == "face":
        try:
            faces = await svc.biometrics.stream(conn.device, message.session_id)
        except (AttendanceError, ConferenceError) as e:
            conn.push(frame("error", **refusal(e)))
            return None
    conn.push(frame("camera", session_id=message.session_id, mode=message.mode, fps=FPS,
                    frame_max=BINARY_FRAME_MAX))
    return CameraLink(svc, conn, token, message.session_id, message.mode, message.lang, faces)
