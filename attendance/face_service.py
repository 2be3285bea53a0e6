"""Face enrolment and recognition, opt-in: consents, sealed templates, identification at a hall.

- A template is made from one picture with exactly one usable face, and stored only sealed (AES-GCM,
  purpose "face-template", bound to its person); the picture itself is never kept anywhere.
- Withdrawing consent deletes the template in the same transaction.
- A kiosk searches only the templates of the people invited to its hall (`Roster`, provided by the
  web layer), cached per session and hall, dropped when someone in it enrols or withdraws. A match
  is checked against the store before it is answered, so a withdrawal made through another process
  takes effect at once.

Persons, sessions and halls are ids here; access checks and the audit log are the web layer's
(`web/usecases/biometrics.py`).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

import numpy as np

from attendance.errors import InvalidRecord, NotFound
from attendance.face_detection import Box
from attendance.face_engine import FaceEngine, FaceProblem, FoundFace, FrameGate, Image, follow
from attendance.face_match import (
    DIM,
    Decision,
    FaceDecision,
    Gallery,
    MatchPolicy,
    MatchReason,
    Vector,
    Verification,
    as_vector,
    partial,
)
from attendance.faces import CONSENT_TEXTS, CONSENT_VERSION, Consent, ConsentChannel, ConsentPurpose, FaceStatus
from attendance.keys import Sealer
from attendance.liveness import LivenessCheck, LivenessFailure, LivenessMode, LivenessPolicy, LivenessState
from attendance.store import FaceStore

Clock = Callable[[], datetime]
SEAL_PURPOSE = "face-template"
TEMPLATE_VERSION = 1
_HEADER = struct.Struct(">BI")  # version, person id: a template sealed for one person opens for no other
_VECTOR = np.dtype("<f4")
MAX_FRAMES = 15


class EnrolProblem(StrEnum):
    NOT_AN_IMAGE = "not_an_image"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    FACE_AT_EDGE = "face_at_edge"


_PROBLEMS = {
    EnrolProblem.NOT_AN_IMAGE: "the file is not a JPEG or PNG picture",
    EnrolProblem.NO_FACE: "no face was found in the picture",
    EnrolProblem.SEVERAL_FACES: "the picture shows more than one face; take one of the person alone",
    EnrolProblem.FACE_TOO_SMALL: "the face is too small in the picture; come closer to the camera",
    EnrolProblem.FACE_AT_EDGE: "part of the face is outside the picture; centre the face",
}


class FaceRefused(InvalidRecord):
    """A picture that cannot be used, with the reason (also the error code) from a closed list."""

    def __init__(self, problem: EnrolProblem) -> None:
        super().__init__(_PROBLEMS[problem], field="image")
        self.problem = problem
        self.code = problem.value


class ConsentRequired(InvalidRecord):
    code = "consent_required"


class NotEnrolled(NotFound):
    code = "not_enrolled"


class Roster(Protocol):
    """Who may be recognised where (the web layer provides it from the conference records)."""

    async def invitees(self, session_id: int, hall_id: int) -> Collection[int]:
        """The persons invited to `hall_id` for the conference of `session_id`; raises NotFound for an
        unknown session."""


@dataclass(frozen=True)
class Enrolment:
    consent: Consent
    enrolled_at: datetime
    face_size: int  # pixels across, in the analysed picture


@dataclass(frozen=True)
class FaceResult:
    box: Box
    problem: FaceProblem | None
    decision: FaceDecision


@dataclass(frozen=True)
class Identification:
    liveness: LivenessState
    liveness_failure: LivenessFailure | None
    faces: tuple[FaceResult, ...]  # largest face first; empty when liveness failed
    gallery_size: int = 0


@dataclass(frozen=True)
class VerifyResult:
    liveness: LivenessState
    liveness_failure: LivenessFailure | None
    verification: Verification | None  # None when liveness failed


def seal_template(sealer: Sealer, person_id: int, vector: Vector) -> bytes:
    plain = _HEADER.pack(TEMPLATE_VERSION, person_id) + as_vector(vector).astype(_VECTOR).tobytes()
    return sealer.seal(SEAL_PURPOSE, plain)


def open_template(sealer: Sealer, person_id: int, sealed: bytes) -> Vector:
    plain = sealer.open(SEAL_PURPOSE, sealed)
    if len(plain) != _HEADER.size + DIM * 4:
        raise InvalidRecord("a face template of the wrong size")
    version, owner = _HEADER.unpack_from(plain)
    if version != TEMPLATE_VERSION or owner != person_id:
        raise InvalidRecord("a face template sealed for another person or format")
    return np.frombuffer(plain, _VECTOR, DIM, _HEADER.size).astype(np.float32)


@dataclass
class _Cached:
    at: float
    members: frozenset[int]
    gallery: Gallery


class FaceService:
    def __init__(self, store: FaceStore, engine: FaceEngine, sealer: Sealer, clock: Clock, roster: Roster,
                 policy: MatchPolicy | None = None, liveness: LivenessPolicy | None = None,
                 retention: timedelta | None = None, gallery_ttl: float = 30.0) -> None:
        self.store = store
        self.engine = engine
        self.sealer = sealer
        self.clock = clock
        self.roster = roster
        self.policy = policy or MatchPolicy()
        self.liveness = liveness or LivenessPolicy()
        self.retention = retention  # None: templates are kept until withdrawal
        self.gallery_ttl = gallery_ttl  # other processes' enrolments show up after this (withdrawals at once)
        self._galleries: dict[tuple[int, int], _Cached] = {}
        self._gallery_lock = asyncio.Lock()

    # -- consent and enrolment ----------------------------------------------------------------------
    async def give_consent(self, person_id: int, channel: ConsentChannel, text_version: str = CONSENT_VERSION
                           ) -> Consent:
        """Record a consent (e.g. a signed paper form) before or without an enrolment."""
        return await self.store.add_consent(person_id, ConsentPurpose.FACE_CHECKIN, _known(text_version), channel,
                                            self.clock())

    async def status(self, person_id: int) -> FaceStatus:
        template = await self.store.template_of(person_id)
        return FaceStatus(person_id, tuple(await self.store.consents_of(person_id)),
                          template.created_at if template else None)

    async def enrol(self, person_id: int, image: Image, channel: ConsentChannel, consent: bool,
                    text_version: str = CONSENT_VERSION) -> Enrolment:
        """Make a person's template from one picture showing exactly one usable face, under their consent
        (recorded with it, in the same transaction). Replaces an earlier template.

        Raises ConsentRequired without `consent`, FaceRefused (with the reason) for an unusable picture.
        """
        if not consent:
            raise ConsentRequired("face enrolment needs the person's explicit consent", field="consent")
        version = _known(text_version)
        face = await self._single_face(image)
        assert face.embedding is not None
        sealed = seal_template(self.sealer, person_id, face.embedding)
        given, template = await self.store.enrol(person_id, ConsentPurpose.FACE_CHECKIN, version, channel, sealed,
                                                  self.clock())
        self.forget(person_id)
        return Enrolment(given, template.created_at, face.size)

    async def withdraw(self, person_id: int) -> tuple[list[Consent], bool]:
        """Withdraw consent; the template is deleted in the same transaction. Returns the consents
        withdrawn and whether a template was deleted."""
        done = await self.store.withdraw(person_id, ConsentPurpose.FACE_CHECKIN, self.clock())
        self.forget(person_id)
        return done

    async def reseal(self) -> int:
        """Seal every template again with the current data key; how many were sealed with another."""
        return await self.store.reseal_templates(lambda sealed: self.sealer.reseal(SEAL_PURPOSE, sealed))

    async def purge_expired(self) -> list[int]:
        """Delete the templates older than the retention period; returns whose."""
        if self.retention is None:
            return []
        purged = await self.store.purge_templates(self.clock() - self.retention)
        for person_id in purged:
            self.forget(person_id)
        return purged

    async def _single_face(self, image: Image) -> FoundFace:
        analysis = await self.engine.analyse(image, encode=True)
        if analysis is None:
            raise FaceRefused(EnrolProblem.NOT_AN_IMAGE)
        usable = [f for f in analysis.faces if f.problem is not FaceProblem.TOO_SMALL]
        if not analysis.faces:
            raise FaceRefused(EnrolProblem.NO_FACE)
        if not usable:
            raise FaceRefused(EnrolProblem.FACE_TOO_SMALL)
        if len(usable) > 1:
            raise FaceRefused(EnrolProblem.SEVERAL_FACES)
        if usable[0].problem is FaceProblem.AT_EDGE:
            raise FaceRefused(EnrolProblem.FACE_AT_EDGE)
        return usable[0]

    # -- recognition --------------------------------------------------------------------------------
    async def identify(self, session_id: int, hall_id: int, frames: Sequence[Image]) -> Identification:
        """Who is in front of the kiosk of `hall_id`, among the hall's invitees with a template.

        With liveness off, every face of the last frame gets a result (a group photo: one per face).
        With liveness on, `frames` is a short burst of one person (~5 a second) that must show a blink
        or a head turn; only then is that person's face compared.
        """
        if not frames or len(frames) > MAX_FRAMES:
            raise InvalidRecord(f"send 1 to {MAX_FRAMES} frames", field="frames")
        faces, state, failure = await self._faces(frames)
        if state is not LivenessState.PASSED:
            return Identification(state, failure, ())
        gallery = await self._gallery(session_id, hall_id)
        results = [self._decide(face, gallery) for face in faces]
        return Identification(state, None, tuple(await self._still_enrolled(results)), len(gallery))

    async def verify(self, person_id: int, frames: Sequence[Image]) -> VerifyResult:
        """1:1, after a QR scan: is the largest face in front of the kiosk this person's?"""
        if not frames or len(frames) > MAX_FRAMES:
            raise InvalidRecord(f"send 1 to {MAX_FRAMES} frames", field="frames")
        stored = await self.store.template_of(person_id)
        if stored is None:
            raise NotEnrolled(f"person {person_id} has no face enrolled")
        template = open_template(self.sealer, person_id, stored.ciphertext)
        faces, state, failure = await self._faces(frames)
        if state is not LivenessState.PASSED:
            return VerifyResult(state, failure, None)
        usable = [f for f in faces if f.embedding is not None]
        if not usable:
            raise FaceRefused(EnrolProblem.FACE_TOO_SMALL if faces else EnrolProblem.NO_FACE)
        face = usable[0]
        assert face.embedding is not None
        verification = self.policy.verify(face.embedding, template)
        if face.problem is FaceProblem.AT_EDGE and verification.decision is Decision.ACCEPT:
            verification = Verification(Decision.CONFIRM, verification.distance)  # part of the face is hidden
        return VerifyResult(state, None, verification)

    def stream(self, session_id: int, hall_id: int) -> FaceStream:
        """A kiosk camera's live frames, for the camera transport: see `FaceStream`."""
        return FaceStream(self, session_id, hall_id)

    async def _faces(self, frames: Sequence[Image]) -> tuple[list[FoundFace], LivenessState, LivenessFailure | None]:
        if self.liveness.mode is LivenessMode.OFF:
            analysis = await self.engine.analyse(frames[-1], encode=True)
            if analysis is None:
                raise FaceRefused(EnrolProblem.NOT_AN_IMAGE)
            return list(analysis.faces), LivenessState.PASSED, None
        if len(frames) < self.liveness.min_frames:
            return [], LivenessState.FAILED, LivenessFailure.TOO_FEW_FRAMES
        burst = await self.engine.analyse_burst(frames, self.liveness)
        if burst is None:
            raise FaceRefused(EnrolProblem.NOT_AN_IMAGE)
        return ([burst.face] if burst.face else []), burst.liveness, burst.failure

    def _decide(self, face: FoundFace, gallery: Gallery) -> FaceResult:
        if face.embedding is None:
            return FaceResult(face.box, face.problem, FaceDecision(Decision.REJECT, MatchReason.TOO_SMALL, None, None))
        decision = self.policy.decide(face.embedding, gallery)
        if face.problem is FaceProblem.AT_EDGE:
            decision = partial(decision)
        return FaceResult(face.box, face.problem, decision)

    async def _still_enrolled(self, results: list[FaceResult]) -> list[FaceResult]:
        """Matches of persons whose template is gone (withdrawn through another process) become
        rejections; one person matched by two faces is confirmed by the operator for all but the nearest."""
        named = [r.decision.person_id for r in results if r.decision.person_id is not None]
        if not named:
            return results
        present = await self.store.enrolled(sorted(set(named)))
        for person_id in set(named) - present:
            self.forget(person_id)
        out: list[FaceResult] = []
        nearest: dict[int, float] = {}
        for r in results:
            d = r.decision
            if d.person_id is not None and d.best is not None:
                nearest[d.person_id] = min(nearest.get(d.person_id, d.best.distance), d.best.distance)
        for r in results:
            d = r.decision
            if d.person_id is not None and d.person_id not in present:
                d = FaceDecision(Decision.REJECT, MatchReason.NO_MATCH, d.best, d.runner_up)
            elif d.person_id is not None and d.best is not None and d.best.distance > nearest[d.person_id] \
                    and d.decision is Decision.ACCEPT:
                d = FaceDecision(Decision.CONFIRM, MatchReason.AMBIGUOUS, d.best, d.runner_up)
            out.append(replace(r, decision=d))
        return out

    # -- galleries ----------------------------------------------------------------------------------
    async def _gallery(self, session_id: int, hall_id: int) -> Gallery:
        members = frozenset(await self.roster.invitees(session_id, hall_id))
        key = (session_id, hall_id)
        cached = self._fresh(key, members)
        if cached is not None:
            return cached
        async with self._gallery_lock:
            cached = self._fresh(key, members)
            if cached is not None:
                return cached
            templates = await self.store.templates_of(sorted(members))
            opened = await asyncio.to_thread(
                lambda: {t.person_id: open_template(self.sealer, t.person_id, t.ciphertext) for t in templates})
            gallery = Gallery.of(opened)
            self._galleries[key] = _Cached(time.monotonic(), members, gallery)
            return gallery

    def _fresh(self, key: tuple[int, int], members: frozenset[int]) -> Gallery | None:
        cached = self._galleries.get(key)
        if cached is None or cached.members != members or time.monotonic() - cached.at > self.gallery_ttl:
            return None
        return cached.gallery

    def forget(self, person_id: int) -> None:
        """Drop the cached galleries `person_id` could be in (they enrolled or withdrew)."""
        for key in [k for k, c in self._galleries.items() if person_id in c.members]:
            del self._galleries[key]


class FaceStream:
    """A kiosk camera's live frames (for the camera transport, e.g. a WebRTC track): `push` each frame
    with its time; a frame pushed while the previous one is still being analysed is dropped (None).

    Liveness is followed across frames on the largest face, searched around its last place first (the
    whole frame when it is not there); when it passes, that face (from the frame
    it passed on, without detecting again) is identified and the challenge starts afresh for the next
    person. With liveness off, every analysed frame is identified.
    """

    def __init__(self, service: FaceService, session_id: int, hall_id: int) -> None:
        self.service = service
        self.session_id = session_id
        self.hall_id = hall_id
        self.gate = FrameGate()
        self.check = LivenessCheck(service.liveness)
        self._last: FoundFace | None = None

    async def push(self, frame: Image, at: float) -> Identification | None:
        return await self.gate.run(lambda: self._process(frame, at))

    async def _process(self, frame: Image, at: float) -> Identification:
        svc = self.service
        live = svc.liveness.mode is not LivenessMode.OFF
        near = self._last.box if live and self._last is not None else None  # search around the followed face first
        analysis = await svc.engine.analyse(frame, encode=not live, near=near)
        if analysis is None:
            raise FaceRefused(EnrolProblem.NOT_AN_IMAGE)
        if not live:
            gallery = await svc._gallery(self.session_id, self.hall_id)
            results = [svc._decide(f, gallery) for f in analysis.faces]
            return Identification(LivenessState.PASSED, None, tuple(await svc._still_enrolled(results)), len(gallery))
        face = follow(analysis.faces, self._last)
        self._last = face or self._last
        state = self.check.feed(face.measure if face else None, at)
        if state is LivenessState.OBSERVING:
            return Identification(state, None, ())
        check, self.check, self._last = self.check, LivenessCheck(svc.liveness), None
        if state is LivenessState.FAILED or face is None:
            return Identification(LivenessState.FAILED, check.failure, ())
        embedding = await svc.engine.encode_at(frame, face.box) if face.problem is not FaceProblem.TOO_SMALL else None
        gallery = await svc._gallery(self.session_id, self.hall_id)
        result = svc._decide(replace(face, embedding=embedding), gallery)
        return Identification(state, None, tuple(await svc._still_enrolled([result])), len(gallery))


def _known(text_version: str) -> str:
    if text_version not in CONSENT_TEXTS:
        raise InvalidRecord(f"unknown consent text version {text_version!r}", field="text_version")
    return text_version
