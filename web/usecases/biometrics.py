"""Face data with access checks and the audit log: who may enrol, withdraw or see whose face data,
and a record of every biometric action (enrolment, withdrawal, each identification that names
someone). It wires the conference records (people, scope, invitations, audit) to the face service.

- A participant enrols and withdraws themself (channel: participant page).
- A hall clerk (or the administrator) enrols people in their scope at the hall (channel: hall
  operator, or a signed paper form); any staff member in scope may record a withdrawal.
- 1:N identification (`identify`, the camera's `stream`) is refused (`NotCalibrated`) until a face
  calibration was recorded (`record_calibration`: `hoinghi faces calibrate DIR --record --by NAME`);
  1:1 `verify` after a QR scan is not gated.
- A kiosk identifies only among its own hall's invitees, and verifies (1:1) only the conference's (which
  hall a kiosk acts for: `web.usecases.checkin.kiosk_hall`). An accepted face is checked in by
  `CheckIns.faces` there, not here.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from attendance.devices import Device
from attendance.errors import NotCalibrated
from attendance.face_calibration import CalibrationRecord
from attendance.face_engine import FrameGate, Image
from attendance.face_service import Enrolment, FaceService, FaceStream, Identification, VerifyResult
from attendance.faces import CONSENT_TEXTS, CONSENT_VERSION, Consent, ConsentChannel, ConsentText, FaceStatus
from conference.accounts import Action, User, authorize
from conference.audit import AuditAction, AuditEntry
from conference.errors import Forbidden, Invalid
from conference.people import Person
from conference.service import ConferenceService
from web import metrics
from web.usecases.cards import badge_unit_name
from web.usecases.checkin import kiosk_hall
from web.usecases.facts import ConferenceFacts

T = TypeVar("T")


class Busy(Exception):
    """This kiosk's previous frame is still being analysed: the new one is skipped."""


@dataclass(frozen=True)
class ConsentSheet:
    """What the printable consent page shows."""

    person: Person
    unit_name: str
    status: FaceStatus
    consent: Consent | None  # the one printed: the active consent, else the latest, else None (a blank form)
    text: ConsentText
    retention_days: int


class HallInvitees:
    """The face service's roster: who is invited to a hall, from the conference facts (cached there)."""

    def __init__(self, facts: ConferenceFacts) -> None:
        self.facts = facts
        self._halls: dict[tuple[int, int], tuple[object, frozenset[int]]] = {}

    async def conference_invitees(self, session_id: int) -> dict[int, int]:
        rules = await self.facts.session_rules(session_id)
        return await self.facts.invited(rules.conference_id)

    async def invitees(self, session_id: int, hall_id: int) -> Collection[int]:
        invited = await self.conference_invitees(session_id)
        cached = self._halls.get((session_id, hall_id))
        if cached is None or cached[0] is not invited:  # the facts' mapping is replaced when it is re-read
            cached = (invited, frozenset(p for p, h in invited.items() if h == hall_id))
            self._halls[(session_id, hall_id)] = cached
        return cached[1]


class Biometrics:
    def __init__(self, conference: ConferenceService, faces: FaceService, roster: HallInvitees,
                 retention_days: int) -> None:
        self.conference = conference
        self.faces = faces
        self.roster = roster
        self.retention_days = retention_days
        self._gates: dict[int, FrameGate] = {}
        self._calibration: CalibrationRecord | None = None  # once one is recorded, 1:N stays on

    # -- calibration: the gate of 1:N identification -------------------------------------------------
    async def record_calibration(self, record: CalibrationRecord) -> CalibrationRecord:
        """Keep a calibration run (the command's, or a rehearsal's); 1:N identification is on from then."""
        self._calibration = await self.faces.store.record_calibration(record)
        await self.conference.store.audit(AuditEntry(
            self.conference.clock(), None, AuditAction.BIOMETRIC, f"face_calibration:{self._calibration.id}",
            f"calibration recorded by {record.recorded_by} on {record.source}: {record.people} people, threshold "
            f"{record.threshold:.2f}, 1:N {'safe' if record.identification_safe else 'NOT safe'} at "
            f"{record.population}", None))
        return self._calibration

    async def calibration(self) -> CalibrationRecord | None:
        """The calibration recorded last (None: 1:N is off); one recorded by another process is seen at once."""
        if self._calibration is None:
            self._calibration = await self.faces.store.latest_calibration()
        return self._calibration

    async def _calibrated(self) -> None:
        if await self.calibration() is None:
            raise NotCalibrated()

    async def _audit(self, user: User | None, device: Device | None, person_id: int, detail: str) -> None:
        await self.conference.store.audit(AuditEntry(
            self.conference.clock(), user.id if user else None, AuditAction.BIOMETRIC, f"person:{person_id}", detail,
            device.id if device else None))

    # -- people's own data, and staff in scope -----------------------------------------------------
    async def _staff_may(self, actor: User, person: Person, action: Action) -> None:
        if actor.person_id != person.id:
            authorize(actor, action, person.unit_id, await self.conference.tree())

    async def status(self, actor: User, person_id: int) -> tuple[Person, FaceStatus]:
        """Self, or staff who may see the person (the view is logged)."""
        person = await self.conference.person(actor, person_id)
        return person, await self.faces.status(person.id)

    async def enrol(self, actor: User, person_id: int, image: Image, consent: bool,
                    channel: ConsentChannel | None = None, text_version: str = CONSENT_VERSION) -> Enrolment:
        """A person enrols themself (participant page), or a hall clerk in scope enrols them at the hall
        (hall operator, or paper). Raises Forbidden, ConsentRequired, FaceRefused."""
        person = await self.conference.store.get_person(person_id)
        if actor.person_id == person.id:
            channel = ConsentChannel.PARTICIPANT_PAGE
        else:
            await self._staff_may(actor, person, Action.CHECK_IN_MANUALLY)
            channel = channel or ConsentChannel.HALL_OPERATOR
            if channel is ConsentChannel.PARTICIPANT_PAGE:
                raise Invalid("staff enrol through the hall operator or on paper", field="channel")
        done = await self.faces.enrol(person.id, image, channel, consent, text_version)
        await self._audit(actor, None, person.id, f"enrolled; consent {done.consent.id} ({done.consent.text_version}, "
                                                  f"{channel.value}); face {done.face_size} px")
        return done

    async def withdraw(self, actor: User, person_id: int) -> tuple[list[Consent], bool]:
        """The person themself, or staff in scope (a withdrawal given to them). The template is deleted."""
        person = await self.conference.store.get_person(person_id)
        await self._staff_may(actor, person, Action.VIEW_PEOPLE)
        withdrawn, deleted = await self.faces.withdraw(person.id)
        await self._audit(actor, None, person.id, f"consent withdrawn ({len(withdrawn)}); "
                                                  f"template {'deleted' if deleted else 'none held'}")
        return withdrawn, deleted

    async def purge_expired(self) -> list[int]:
        """Delete the templates past the retention period (at start-up), each deletion logged."""
        purged = await self.faces.purge_expired()
        for person_id in purged:
            await self._audit(None, None, person_id, f"template deleted: retention of {self.retention_days} days over")
        return purged

    async def consent_sheet(self, actor: User, person_id: int) -> ConsentSheet:
        person, status = await self.status(actor, person_id)
        consent = status.consent or (status.consents[0] if status.consents else None)
        text = CONSENT_TEXTS[consent.text_version if consent else CONSENT_VERSION]
        unit_name = badge_unit_name(await self.conference.tree(), person.unit_id)
        return ConsentSheet(person, unit_name, status, consent, text, self.retention_days)

    # -- kiosks -------------------------------------------------------------------------------------
    async def identify(self, device: Device, session_id: int, hall_id: int | None, frames: Sequence[Image]
                       ) -> Identification:
        """Who is at the kiosk, among its hall's invitees. Raises Busy while the kiosk's previous request
        is still being analysed. Every face named (accepted, or to confirm) is logged."""
        hall, _ = await kiosk_hall(self.roster.facts, device, session_id, hall_id)
        await self._calibrated()
        started = time.perf_counter()
        found = await self._gated(device, lambda: self.faces.identify(session_id, hall, frames))
        metrics.faces_decided([f.decision.decision.value for f in found.faces], time.perf_counter() - started)
        await self._log_named(device, session_id, hall, found)
        return found

    async def stream(self, device: Device, session_id: int) -> AuditedStream:
        """For the kiosk's camera link: its live frames, identified among its hall's invitees (see
        `attendance.face_service.FaceStream`), each face named logged like `identify`."""
        hall, _ = await kiosk_hall(self.roster.facts, device, session_id)
        await self._calibrated()
        return AuditedStream(self, device, session_id, hall, self.faces.stream(session_id, hall))

    async def _log_named(self, device: Device, session_id: int, hall: int, found: Identification) -> None:
        for face in found.faces:
            d = face.decision
            if d.person_id is not None and d.distance is not None:
                await self._audit(None, device, d.person_id, f"identified ({d.decision.value}, {d.reason.value}) "
                                                             f"d={d.distance:.3f} session {session_id} hall {hall}")

    async def verify(self, device: Device, session_id: int, hall_id: int | None, person_id: int,
                     frames: Sequence[Image]) -> VerifyResult:
        """1:1 after a QR scan: is this the card holder? Only for the session's conference's invitees."""
        await kiosk_hall(self.roster.facts, device, session_id, hall_id)
        if person_id not in await self.roster.conference_invitees(session_id):
            raise Forbidden("this person is not invited to the session's conference")
        result = await self._gated(device, lambda: self.faces.verify(person_id, frames))
        if result.verification is not None:
            v = result.verification
            await self._audit(None, device, person_id, f"verified ({v.decision.value}) d={v.distance:.3f} "
                                                       f"session {session_id}")
        return result

    async def _gated(self, device: Device, work: Callable[[], Awaitable[T]]) -> T:
        gate = self._gates.setdefault(device.id, FrameGate())
        result = await gate.run(work)
        if result is None:
            raise Busy("the previous picture from this kiosk is still being analysed")
        return result


class AuditedStream:
    """A kiosk camera's frames into face recognition: `push(frame, at)` returns None for a frame dropped
    while the previous one is analysed, else the identification (liveness still observing: no faces)."""

    def __init__(self, bio: Biometrics, device: Device, session_id: int, hall_id: int, inner: FaceStream) -> None:
        self.bio = bio
        self.device = device
        self.session_id = session_id
        self.hall_id = hall_id
        self.inner = inner

    async def push(self, frame: Image, at: float) -> Identification | None:
        started = time.perf_counter()
        found = await self.inner.push(frame, at)
        if found is not None:
            metrics.faces_decided([f.decision.decision.value for f in found.faces], time.perf_counter() - started)
            await self.bio._log_named(self.device, self.session_id, self.hall_id, found)
        return found
