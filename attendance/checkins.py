"""Check-ins (điểm danh) and scan events: the records of the attendance ledger.

One current check-in per (session, person); every scan attempt, refused ones included, is a scan
event kept for audit and statistics, with a reason from a closed list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from attendance.errors import InvalidRecord

REASON_MAX = 500


class Method(StrEnum):
    QR = "qr"
    FACE = "face"  # Khuôn mặt
    MANUAL = "manual"  # thủ công
    ONLINE = "online"  # trực tuyến
    HEADCOUNT = "headcount"  # nhập số liệu


class Status(StrEnum):
    NOT_CHECKED_IN = "not_checked_in"  # Chưa điểm danh
    PRESENT_IN_PERSON = "present_in_person"  # Có mặt trực tiếp
    PRESENT_ONLINE = "present_online"  # Có mặt trực tuyến
    ABSENT_EXCUSED = "absent_excused"  # Vắng có lý do
    ABSENT_UNEXCUSED = "absent_unexcused"  # Vắng không lý do


PRESENT = frozenset({Status.PRESENT_IN_PERSON, Status.PRESENT_ONLINE})  # online attendance counts as present


class ReviewState(StrEnum):
    NONE = "none"
    PENDING = "pending"  # a face match in the middle band, or an offline check-in that broke a rule
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REPEAT = "repeat"  # already checked in: answered with the first check-in
    REFUSED = "refused"


class Refusal(StrEnum):
    """The closed list of reasons a scan is refused."""

    MALFORMED = "malformed"  # not a credential at all
    BAD_SIGNATURE = "bad_signature"  # tampered or forged
    UNKNOWN_KEY = "unknown_key"  # signed with a key this deployment does not accept
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    WRONG_CONFERENCE = "wrong_conference"
    NOT_EXPECTED = "not_expected"  # not invited to this session
    CHECKIN_NOT_OPEN = "checkin_not_open"
    CHECKIN_CLOSED = "checkin_closed"
    WRONG_HALL = "wrong_hall"
    UNKNOWN_PERSON = "unknown_person"
    FACE_NOT_RECOGNISED = "face_not_recognised"


@dataclass(frozen=True)
class CheckIn:
    session_id: int
    person_id: int
    status: Status
    method: Method
    hall_id: int | None
    server_time: datetime
    kiosk_time: datetime | None = None
    device_id: int | None = None
    operator_user_id: int | None = None
    nonce: str | None = None
    face_score: float | None = None
    review: ReviewState = ReviewState.NONE
    late: bool = False
    left_early: bool = False
    wrong_hall: bool = False
    absence_reason: str = ""

    def __post_init__(self) -> None:
        if self.status is Status.ABSENT_EXCUSED and not self.absence_reason.strip():
            raise InvalidRecord("absent with a reason needs the reason", field="absence_reason")
        if len(self.absence_reason) > REASON_MAX:
            raise InvalidRecord(f"a reason has at most {REASON_MAX} characters", field="absence_reason")
        if self.face_score is not None and self.method is not Method.FACE:
            raise InvalidRecord("only a face check-in has a face score", field="face_score")
        if self.server_time.tzinfo is None or (self.kiosk_time and self.kiosk_time.tzinfo is None):
            raise InvalidRecord("check-in times must carry a time zone", field="server_time")

    @property
    def present(self) -> bool:
        return self.status in PRESENT


@dataclass(frozen=True)
class ScanEvent:
    """One attempt at a kiosk or through the API, whatever its outcome."""

    session_id: int
    hall_id: int | None
    method: Method
    outcome: Outcome
    server_time: datetime
    reason: Refusal | None = None
    person_id: int | None = None
    credential_id: str | None = None
    device_id: int | None = None
    kiosk_time: datetime | None = None
    nonce: str | None = None
    offline: bool = False

    def __post_init__(self) -> None:
        if (self.outcome is Outcome.REFUSED) != (self.reason is not None):
            raise InvalidRecord("a refused scan, and only a refused scan, has a reason", field="reason")


@dataclass(frozen=True)
class IssuedCredential:
    """The server's record of a credential: which person it stands for, and whether it still does."""

    credential_id: str  # 16 hex characters
    person_id: int
    key_id: int
    conference_id: int  # 0: any conference
    valid_from: datetime
    valid_until: datetime
    issued_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
