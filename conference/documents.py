"""Conference documents (tài liệu hội nghị), reached by QR instead of paper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from conference.errors import Invalid


class DocumentAccess(StrEnum):
    PUBLIC = "public"  # anyone with the link
    SIGNED_IN = "signed_in"  # sign-in required


@dataclass(frozen=True)
class Document:
    id: int
    conference_id: int
    title: str
    number: str  # số hiệu, e.g. "15-HD/BTGTU"
    issuer: str
    issued_on: date | None
    category: str
    access: DocumentAccess
    sha256: str  # content address of the stored file
    content_type: str
    size: int

    def __post_init__(self) -> None:
        if not self.title:
            raise Invalid("a document needs a title", field="title")
        if len(self.sha256) != 64:
            raise Invalid("a document is stored under its SHA-256", field="sha256")
        if self.size < 0:
            raise Invalid("size cannot be negative", field="size")
