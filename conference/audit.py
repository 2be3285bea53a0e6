"""The audit log: who viewed or exported personal data, changed attendance, touched biometrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AuditAction(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    VIEW_PEOPLE = "view_people"
    EXPORT_PEOPLE = "export_people"
    IMPORT_ROSTER = "import_roster"
    MANUAL_ATTENDANCE = "manual_attendance"
    BIOMETRIC = "biometric"
    USER_CHANGE = "user_change"
    DEVICE_CHANGE = "device_change"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor_user_id: int | None  # None for a device or the system
    action: AuditAction
    subject: str  # e.g. "unit:12", "person:345", "hall:7"
    detail: str = ""
    device_id: int | None = None
