"""Feedback travelling upward (ý kiến – đề xuất), with its state machine."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from conference.errors import Invalid

CONTENT_MAX = 4000


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
    FeedbackState.ESCALATED: frozenset({FeedbackState.ANSWERED}),
    FeedbackState.ANSWERED: frozenset(),
}


@dataclass(frozen=True)
class Feedback:
    id: int
    author_person_id: int | None  # None when anonymous
    unit_id: int
    conference_id: int | None
    kind: FeedbackKind
    content: str
    state: FeedbackState
    created_at: datetime
    answer: str = ""
    answered_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.content.strip():
            raise Invalid("feedback cannot be empty", field="content")
        if len(self.content) > CONTENT_MAX or len(self.answer) > CONTENT_MAX:
            raise Invalid(f"at most {CONTENT_MAX} characters", field="content")

    def move(self, to: FeedbackState, now: datetime, answer: str = "") -> Feedback:
        """The next state; answering requires an answer text."""
        if to not in TRANSITIONS[self.state]:
            raise Invalid(f"feedback cannot go from {self.state} to {to}", field="state")
        if to is FeedbackState.ANSWERED:
            if not answer.strip():
                raise Invalid("an answer needs text", field="answer")
            return replace(self, state=to, answer=answer.strip(), answered_at=now)
        return replace(self, state=to)
