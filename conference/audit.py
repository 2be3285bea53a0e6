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
    DOCUMENT_CHANGE = "document_change"  # a conference document uploaded or removed
    FEEDBACK_CHANGE = "feedback_change"  # feedback moved to another state or answered
    VIEW_AUDIT = "view_audit"  # the audit log itself was read
    VIEW_CREDENTIAL = "view_credential"  # a person's QR fetched or printed by staff
    BROADCAST_TAKEOVER = "broadcast_takeover"  # an organiser replaced another user's live source


class AuditCategory(StrEnum):
    """How the administrator's audit view groups the actions."""

    PERSONAL_DATA = "personal_data"  # viewed, exported or imported personal data
    ATTENDANCE = "attendance"  # manual attendance changes
    BIOMETRIC = "biometric"  # face enrolment, templates, consent
    ACCOUNTS = "accounts"  # sign-ins, users, kiosks, reading this log
    CONTENT = "content"  # documents and feedback


CATEGORIES: dict[AuditCategory, frozenset[AuditAction]] = {
    AuditCategory.PERSONAL_DATA: frozenset({AuditAction.VIEW_PEOPLE, AuditAction.EXPORT_PEOPLE,
                                            AuditAction.IMPORT_ROSTER, AuditAction.VIEW_CREDENTIAL}),
    AuditCategory.ATTENDANCE: frozenset({AuditAction.MANUAL_ATTENDANCE}),
    AuditCategory.BIOMETRIC: frozenset({AuditAction.BIOMETRIC}),
    AuditCategory.ACCOUNTS: frozenset({AuditAction.SIGN_IN, AuditAction.SIGN_IN_FAILED, AuditAction.USER_CHANGE,
                                       AuditAction.DEVICE_CHANGE, AuditAction.VIEW_AUDIT,
                                       AuditAction.BROADCAST_TAKEOVER}),
    AuditCategory.CONTENT: frozenset({AuditAction.DOCUMENT_CHANGE, AuditAction.FEEDBACK_CHANGE}),
}


def actions_of(category: AuditCategory | None) -> frozenset[AuditAction] | None:
    """The actions a category filter keeps (None: no filter)."""
    return None if category is None else CATEGORIES[category]


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor_user_id: int | None  # None for a device or the system
    action: AuditAction
    subject: str  # e.g. "unit:12", "person:345", "hall:7"
    detail: str = ""
    device_id: int | None = None
