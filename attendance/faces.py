"""Face enrolment (opt-in) and the consent it rests on.

Only a template (the 128-d embedding, encrypted) is kept, never a photo. Withdrawing consent
deletes the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from attendance.errors import InvalidRecord


class ConsentChannel(StrEnum):
    PARTICIPANT_PAGE = "participant_page"
    HALL_OPERATOR = "hall_operator"
    PAPER = "paper"


class ConsentPurpose(StrEnum):
    FACE_CHECKIN = "face_checkin"


@dataclass(frozen=True)
class Consent:
    id: int
    person_id: int
    purpose: ConsentPurpose
    text_version: str
    given_at: datetime
    channel: ConsentChannel
    withdrawn_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.text_version:
            raise InvalidRecord("a consent names the text version agreed to", field="text_version")
        if self.withdrawn_at is not None and self.withdrawn_at < self.given_at:
            raise InvalidRecord("a consent cannot be withdrawn before it was given", field="withdrawn_at")

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


@dataclass(frozen=True)
class FaceTemplate:
    person_id: int
    consent_id: int
    ciphertext: bytes  # the encrypted embedding; the plaintext never reaches the store
    created_at: datetime
