"""Feedback travelling upward (ý kiến – đề xuất), with its state machine.

A participant sends an opinion, a proposal, a recommendation or a request to speak, signed or
anonymous, tied to their unit and optionally to a conference. Organisers whose scope holds the
*handling unit* move it through Mới · Đang xử lý · Đã tiếp thu · Đã trả lời · Chuyển cấp trên.
Passing it upward (Chuyển cấp trên) hands it to the unit above the organiser who passes it on.

Anonymous feedback keeps no link to its author: no person id, its time rounded to the hour, and
only the hash of a receipt code that the author alone holds to read the answer later.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from conference.errors import Invalid
from conference.units import UnitTree

CONTENT_MAX = 4000
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
RECEIPT_LENGTH = 12  # 60 bits, shown as XXXX-XXXX-XXXX


class FeedbackKind(StrEnum):
    OPINION = "opinion"  # ý kiến
    PROPOSAL = "proposal"  # đề xuất
    RECOMMENDATION = "recommendation"  # kiến nghị
    SPEAK_REQUEST = "speak_request"  # đăng ký phát biểu


class FeedbackState(StrEnum):
    NEW = "new"  # Mới
    IN_PROGRESS = "in_progress"  # Đang xử lý
    ACCEPTED = "accepted"  # Đã tiếp thu
    ANSWERED = "answered"  # Đã trả lời
    ESCALATED = "escalated"  # Chuyển cấp trên


TRANSITIONS: dict[FeedbackState, frozenset[FeedbackState]] = {
    FeedbackState.NEW: frozenset(
        {FeedbackState.IN_PROGRESS, FeedbackState.ACCEPTED, FeedbackState.ANSWERED, FeedbackState.ESCALATED}
    ),
    FeedbackState.IN_PROGRESS: frozenset(
        {FeedbackState.ACCEPTED, FeedbackState.ANSWERED, FeedbackState.ESCALATED}
    ),
    FeedbackState.ACCEPTED: frozenset({FeedbackState.ANSWERED}),
    # the level above takes it up, answers it, or passes it further up
    FeedbackState.ESCALATED: frozenset(
        {FeedbackState.IN_PROGRESS, FeedbackState.ACCEPTED, FeedbackState.ANSWERED, FeedbackState.ESCALATED}
    ),
    FeedbackState.ANSWERED: frozenset(),
}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """NFC, Unix line ends, no control or bidi-override characters, at most one blank line in a row.

    Line breaks are kept (unlike names): a proposal has paragraphs. Nothing is escaped here: every
    page, export and PDF shows the text as text.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text.replace("\t", " "))
    return _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()


@dataclass(frozen=True)
class Feedback:
    id: int
    author_person_id: int | None  # None when anonymous
    unit_id: int  # the author's unit (their cell) when they sent it
    conference_id: int | None
    kind: FeedbackKind
    content: str
    state: FeedbackState
    created_at: datetime
    answer: str = ""
    answered_at: datetime | None = None
    handler_unit_id: int | None = None  # whose organisers handle it now; None: the author's unit
    answered_by_user_id: int | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.content.strip():
            raise Invalid("feedback cannot be empty", field="content")
        if len(self.content) > CONTENT_MAX:
            raise Invalid(f"at most {CONTENT_MAX} characters", field="content")
        if len(self.answer) > CONTENT_MAX:
            raise Invalid(f"at most {CONTENT_MAX} characters", field="answer")

    @property
    def anonymous(self) -> bool:
        return self.author_person_id is None

    @property
    def handler(self) -> int:
        return self.unit_id if self.handler_unit_id is None else self.handler_unit_id

    def move(self, to: FeedbackState, now: datetime, answer: str = "", by_user_id: int | None = None,
             handler_unit_id: int | None = None) -> Feedback:
        """The next state. Answering needs an answer text; passing upward needs the unit above."""
        if to not in TRANSITIONS[self.state]:
            raise Invalid(f"feedback cannot go from {self.state} to {to}", field="state")
        if to is FeedbackState.ANSWERED:
            answer = clean_text(answer)
            if not answer:
                raise Invalid("an answer needs text", field="answer")
            if len(answer) > CONTENT_MAX:
                raise Invalid(f"an answer has at most {CONTENT_MAX} characters", field="answer")
            return replace(self, state=to, answer=answer, answered_at=now, answered_by_user_id=by_user_id,
                           updated_at=now)
        if to is FeedbackState.ESCALATED:
            if handler_unit_id is None:
                raise Invalid("there is no level above to pass this to", field="state")
            return replace(self, state=to, handler_unit_id=handler_unit_id, updated_at=now)
        return replace(self, state=to, updated_at=now)


def new_feedback(kind: FeedbackKind, content: str, unit_id: int, author_person_id: int | None,
                 conference_id: int | None, now: datetime, anonymous: bool) -> Feedback:
    """Feedback not yet stored (id 0). Anonymous: no author, and its time only to the hour."""
    if anonymous:
        return Feedback(0, None, unit_id, conference_id, kind, clean_text(content), FeedbackState.NEW,
                        now.replace(minute=0, second=0, microsecond=0))
    if author_person_id is None:
        raise Invalid("signed feedback needs its author", field="anonymous")
    return Feedback(0, author_person_id, unit_id, conference_id, kind, clean_text(content), FeedbackState.NEW, now)


def escalation_target(handler_unit_id: int, actor_scope_unit_id: int | None, tree: UnitTree) -> int | None:
    """The unit that "Chuyển cấp trên" hands feedback to: the one above the organiser passing it on
    (above the current handling unit, for the administrator); None at the top of the tree."""
    base = handler_unit_id if actor_scope_unit_id is None else actor_scope_unit_id
    parent = tree.parent(base) if base in tree else None
    return parent.id if parent is not None else None


def format_receipt(raw: str) -> str:
    """"ABCD1234WXYZ" -> "ABCD-1234-WXYZ"."""
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def normalise_receipt(code: str) -> str:
    """What the author typed, as issued: upper case, no separators, O/I/L read as 0/1/1."""
    code = re.sub(r"[\s\-_.]", "", code.upper()).translate(str.maketrans("OIL", "011"))
    return code if len(code) == RECEIPT_LENGTH and all(c in RECEIPT_ALPHABET for c in code) else ""


def receipt_hash(code: str) -> str:
    """What is stored of a receipt code: its SHA-256 (60 random bits are not guessable online)."""
    return hashlib.sha256(f"hoinghi-feedback:{code}".encode()).hexdigest()
