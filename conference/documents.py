"""Conference documents (tài liệu hội nghị), reached by QR instead of paper.

Pure: the record, the rules of an upload, and how a document is named when it is served. An
upload's type is read from its first bytes (magic numbers), never from its name or from what the
browser claims; a name whose extension contradicts the content is refused as a disguised file.
Stored files are named by their SHA-256 (conference/blobs.py), never by anything a user chose.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from urllib.parse import quote

from conference.errors import Invalid
from conference.text import clean, fold

DOCUMENT_MAX = 25 * 1024 * 1024  # bytes: a scanned resolution of a few dozen pages
TITLE_MAX = 300
NUMBER_MAX = 100
ISSUER_MAX = 200
CATEGORY_MAX = 100
ANONYMOUS = 0  # the openings bucket of readers who are not signed in (or belong to no unit)
CATEGORIES = ("Nghị quyết", "Chỉ thị", "Kết luận", "Quy định", "Hướng dẫn", "Tài liệu học tập", "Báo cáo",
              "Chương trình", "Khác")  # suggestions offered by the upload form; any text is accepted


class DocumentAccess(StrEnum):
    PUBLIC = "public"  # anyone with the link
    SIGNED_IN = "signed_in"  # sign-in required


class FileKind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    PNG = "png"
    JPEG = "jpeg"
    WEBP = "webp"


CONTENT_TYPES: dict[FileKind, str] = {
    FileKind.PDF: "application/pdf",
    FileKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileKind.PNG: "image/png",
    FileKind.JPEG: "image/jpeg",
    FileKind.WEBP: "image/webp",
}
EXTENSIONS: dict[FileKind, tuple[str, ...]] = {
    FileKind.PDF: (".pdf",),
    FileKind.DOCX: (".docx",),
    FileKind.PNG: (".png",),
    FileKind.JPEG: (".jpg", ".jpeg"),
    FileKind.WEBP: (".webp",),
}
KIND_OF_TYPE = {v: k for k, v in CONTENT_TYPES.items()}
INLINE = frozenset({FileKind.PDF, FileKind.PNG, FileKind.JPEG, FileKind.WEBP})  # a phone shows these itself


class UploadProblem(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNKNOWN_TYPE = "unknown_type"  # not a PDF, DOCX, PNG, JPEG or WebP (an .exe, an HTML page, …)
    MISMATCH = "mismatch"  # the name says one type, the content another
    MACRO = "macro"  # a Word file with macros (.docm renamed .docx)


class UploadRefused(Invalid):
    """An upload refused before anything was stored; `problem` says why (the page words it)."""

    def __init__(self, problem: UploadProblem, message: str, **params: object) -> None:
        super().__init__(message, field="file")
        self.problem = problem
        self.params = params


def sniff(data: bytes) -> FileKind | None:
    """The kind of file the bytes are, from their signature; None for anything else.

    A DOCX is a ZIP holding `[Content_Types].xml` and `word/document.xml`; only the archive's
    directory is read (plus, capped, the content-types part), nothing is unpacked.
    """
    if data.startswith(b"%PDF-"):
        return FileKind.PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return FileKind.PNG
    if data.startswith(b"\xff\xd8\xff"):
        return FileKind.JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:16] in (b"VP8 ", b"VP8L", b"VP8X"):
        return FileKind.WEBP
    if data.startswith(b"PK\x03\x04") and _word_document(data):
        return FileKind.DOCX
    return None


def _word_document(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        return False
    return "[Content_Types].xml" in names and "word/document.xml" in names


def _has_macros(data: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if any(name.lower().endswith("vbaproject.bin") for name in archive.namelist()):
            return True
        with archive.open("[Content_Types].xml") as part:
            return b"macroEnabled" in part.read(256 * 1024)


def extension(filename: str) -> str:
    """The lower-case extension of an uploaded name ("" when it has none); the name is used for nothing else."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[1].lower() if "." in base.strip(".") else ""


def check_upload(data: bytes, filename: str, limit: int = DOCUMENT_MAX) -> FileKind:
    """The kind of an acceptable upload, or UploadRefused saying why not."""
    if not data:
        raise UploadRefused(UploadProblem.EMPTY, "the file is empty")
    if len(data) > limit:
        raise UploadRefused(UploadProblem.TOO_LARGE, f"the file is over {limit // (1024 * 1024)} MB",
                            limit_mb=limit // (1024 * 1024))
    kind = sniff(data)
    if kind is None:
        raise UploadRefused(UploadProblem.UNKNOWN_TYPE, "the content is not a PDF, DOCX, PNG, JPEG or WebP file")
    ext = extension(filename)
    if ext and ext not in EXTENSIONS[kind]:
        raise UploadRefused(UploadProblem.MISMATCH, f"the name ends in {ext} but the content is {kind.value}",
                            ext=ext, kind=kind.value.upper())
    if kind is FileKind.DOCX and _has_macros(data):
        raise UploadRefused(UploadProblem.MACRO, "Word files with macros are refused")
    return kind


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
    created_at: datetime | None = None
    created_by_user_id: int | None = None

    def __post_init__(self) -> None:
        if not self.title:
            raise Invalid("a document needs a title", field="title")
        if len(self.sha256) != 64:
            raise Invalid("a document is stored under its SHA-256", field="sha256")
        if self.size < 0:
            raise Invalid("size cannot be negative", field="size")

    @property
    def kind(self) -> FileKind:
        return KIND_OF_TYPE.get(self.content_type, FileKind.PDF)

    @property
    def public(self) -> bool:
        return self.access is DocumentAccess.PUBLIC


def new_document(
    conference_id: int, title: str, number: str, issuer: str, issued_on: date | None, category: str,
    access: DocumentAccess, sha256: str, kind: FileKind, size: int, now: datetime, by_user_id: int | None,
) -> Document:
    """A document not yet stored (id 0), its text cleaned and its lengths checked."""
    title, number, issuer, category = clean(title), clean(number), clean(issuer), clean(category)
    for name, value, limit in (("title", title, TITLE_MAX), ("number", number, NUMBER_MAX),
                               ("issuer", issuer, ISSUER_MAX), ("category", category, CATEGORY_MAX)):
        if len(value) > limit:
            raise Invalid(f"{name}: at most {limit} characters", field=name)
    return Document(0, conference_id, title, number, issuer, issued_on, category, access, sha256,
                    CONTENT_TYPES[kind], size, now, by_user_id)


_SLUG = re.compile(r"[^a-z0-9]+")


def download_name(doc: Document) -> tuple[str, str]:
    """(ASCII name, Unicode name) to offer when the document is saved: from its title, never a user's file name."""
    ext = EXTENSIONS[doc.kind][0]
    ascii_stem = _SLUG.sub("-", fold(doc.title)).strip("-")[:80].strip("-") or f"tai-lieu-{doc.id}"
    unicode_stem = "".join(ch for ch in unicodedata.normalize("NFC", doc.title)
                           if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    unicode_stem = re.sub(r'[\\/:*?"<>|]+', " ", unicode_stem).strip()[:120] or ascii_stem
    return ascii_stem + ext, unicode_stem + ext


def content_disposition(doc: Document) -> str:
    """`inline` for what a phone shows itself (PDF, images), `attachment` for Word files; both names safe."""
    ascii_name, unicode_name = download_name(doc)
    mode = "inline" if doc.kind in INLINE else "attachment"
    return f"{mode}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(unicode_name, safe='')}"
