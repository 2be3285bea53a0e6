"""Kiosk devices: enrolled by a one-time code, bound to one hall, with a revocable token.

Tokens are `<device id>.<secret>`; only the SHA-256 of the secret is stored.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from attendance.errors import DeviceRejected, EnrolmentRefused, WrongHall

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand
CODE_LENGTH = 8


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class EnrolmentCode:
    code_hash: str
    hall_id: int
    created_by_user_id: int | None
    expires_at: datetime
    used_at: datetime | None = None

    def check(self, now: datetime) -> None:
        if self.used_at is not None:
            raise EnrolmentRefused("this enrolment code has already been used")
        if now > self.expires_at:
            raise EnrolmentRefused("this enrolment code has expired")


@dataclass(frozen=True)
class Device:
    id: int
    hall_id: int
    name: str
    token_hash: str
    enrolled_at: datetime
    revoked_at: datetime | None = None
    last_seen_at: datetime | None = None

    def verify(self, secret: str) -> None:
        """Raise DeviceRejected unless the secret matches and the key is live."""
        if not hmac.compare_digest(self.token_hash, digest(secret)):
            raise DeviceRejected("unknown device token")
        if self.revoked_at is not None:
            raise DeviceRejected("this device's key has been revoked")

    def require_hall(self, hall_id: int) -> None:
        """Raise WrongHall unless the device is bound to `hall_id`."""
        if hall_id != self.hall_id:
            raise WrongHall("this device is bound to another hall")


def split_token(token: str) -> tuple[int, str]:
    """`"12.s3cr3t"` -> (12, "s3cr3t"); DeviceRejected for anything else."""
    head, _, secret = token.partition(".")
    if not head.isdigit() or not secret:
        raise DeviceRejected("malformed device token")
    return int(head), secret


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())
