"""The check-in rules: given one scan and what is known about the person, the verdict.

Pure: no I/O and no clock (times come in the scan). The ledger service gathers the facts, calls
`judge`, and writes what it decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from attendance.checkins import CheckIn, Method, Outcome, Refusal, ReviewState, Status
from attendance.errors import InvalidRecord

UNDO_WINDOW = timedelta(minutes=5)


class WrongHallPolicy(StrEnum):
    ACCEPT_AND_FLAG = "accept"  # checked in where they are, flagged for the organisers
    REFUSE = "refuse"


@dataclass(frozen=True)
class SessionRules:
    """What the ledger needs to know about a session (the conference package owns the session itself)."""

    session_id: int
    conference_id: int
    starts_at: datetime
    checkin_opens_at: datetime
    checkin_closes_at: datetime
    late_after_minutes: int
    wrong_hall: WrongHallPolicy = WrongHallPolicy.ACCEPT_AND_FLAG
    admit_uninvited: bool = False  # guests by policy: admit people not invited to this conference

    def window_refusal(self, moment: datetime) -> Refusal | None:
        if moment < self.checkin_opens_at:
            return Refusal.CHECKIN_NOT_OPEN
        if moment > self.checkin_closes_at:
            return Refusal.CHECKIN_CLOSED
        return None

    def is_late(self, moment: datetime) -> bool:
        return moment > self.starts_at + timedelta(minutes=self.late_after_minutes)


@dataclass(frozen=True)
class Scan:
    """One attempt to check a person in, as a kiosk, an operator or the online tracker sends it."""

    session_id: int
    hall_id: int | None
    method: Method
    server_time: datetime
    kiosk_time: datetime | None = None
    device_id: int | None = None
    operator_user_id: int | None = None
    nonce: str | None = None
    offline: bool = False  # checked by the kiosk itself while the network was down, uploaded later
    face_score: float | None = None
    credential_id: str | None = None

    @property
    def moment(self) -> datetime:
        """When it happened: the kiosk's own time for an offline scan, the server's otherwise."""
        return self.kiosk_time if self.offline and self.kiosk_time else self.server_time


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: Refusal | None = None
    checkin: CheckIn | None = None  # the new check-in, or for a repeat the first one
    person_id: int | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


def refuse(reason: Refusal) -> Verdict:
    return Verdict(Outcome.REFUSED, reason)


def judge(rules: SessionRules, scan: Scan, person_id: int, expected_hall: int | None,
          existing: CheckIn | None) -> Verdict:
    """The verdict for a scan whose credential (or manual pick) already names `person_id`.

    `expected_hall` is the hall the person is invited to (None: not invited); `existing` their
    current check-in for the session, if any. An online scan breaking a rule is refused; an offline
    one (the kiosk already let the person in) is accepted, flagged for review, never dropped.
    """
    if existing is not None and existing.present:
        return Verdict(Outcome.REPEAT, checkin=existing, person_id=person_id)
    broken: Refusal | None = None
    if expected_hall is None and not rules.admit_uninvited:
        broken = Refusal.NOT_EXPECTED
    broken = broken or rules.window_refusal(scan.moment)
    wrong_hall = expected_hall is not None and scan.hall_id is not None and expected_hall != scan.hall_id
    if wrong_hall and rules.wrong_hall is WrongHallPolicy.REFUSE:
        broken = broken or Refusal.WRONG_HALL
    if broken is not None and not scan.offline:
        return Verdict(Outcome.REFUSED, broken, person_id=person_id)
    status = Status.PRESENT_ONLINE if scan.method is Method.ONLINE else Status.PRESENT_IN_PERSON
    checkin = CheckIn(
        session_id=scan.session_id, person_id=person_id, status=status, method=scan.method, hall_id=scan.hall_id,
        server_time=scan.server_time, kiosk_time=scan.kiosk_time, device_id=scan.device_id,
        operator_user_id=scan.operator_user_id, nonce=scan.nonce, face_score=scan.face_score,
        review=ReviewState.PENDING if broken is not None else ReviewState.NONE,
        late=rules.is_late(scan.moment), wrong_hall=wrong_hall,
    )
    return Verdict(Outcome.ACCEPTED, checkin=checkin, person_id=person_id)


def mark_absent(rules: SessionRules, person_id: int, hall_id: int | None, reason: str, operator_user_id: int,
                now: datetime, existing: CheckIn | None) -> CheckIn:
    """"Vắng có lý do" (with a reason) or, with an empty reason, "vắng không lý do"; never over a presence."""
    if existing is not None and existing.present:
        raise InvalidRecord("this person is already checked in", field="person_id")
    status = Status.ABSENT_EXCUSED if reason.strip() else Status.ABSENT_UNEXCUSED
    return CheckIn(rules.session_id, person_id, status, Method.MANUAL, hall_id, now,
                   operator_user_id=operator_user_id, absence_reason=reason.strip())


def may_undo(checkin: CheckIn, device_id: int | None, operator_user_id: int | None, now: datetime) -> bool:
    """Only the device (or operator) that made a record may undo it, and only for a few minutes: a check-in,
    or an absence marked by mistake (the person is then not checked in again)."""
    same = (device_id is not None and checkin.device_id == device_id) or (
        operator_user_id is not None and checkin.operator_user_id == operator_user_id)
    return same and now - checkin.server_time <= UNDO_WINDOW
