"""Conferences (hội nghị), their sessions (phiên) and programme items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from conference.errors import Invalid
from conference.text import clean

TITLE_MAX = 300


class ConferenceMode(StrEnum):
    DISCUSSION = "discussion"  # hội nghị thảo luận
    PRESENTER = "presenter"  # một báo cáo viên
    BROADCAST = "broadcast"  # truyền hình trực tiếp


@dataclass(frozen=True)
class Conference:
    id: int
    title: str
    topic: str
    mode: ConferenceMode
    organiser_unit_id: int  # the unit that presents it: its subtree is who it is for
    created_at: datetime

    def __post_init__(self) -> None:
        if not self.title:
            raise Invalid("a conference needs a title", field="title")
        if len(self.title) > TITLE_MAX:
            raise Invalid(f"a title has at most {TITLE_MAX} characters", field="title")


def new_conference(
    title: str, topic: str, mode: ConferenceMode, organiser_unit_id: int, now: datetime
) -> Conference:
    return Conference(0, clean(title), clean(topic), mode, organiser_unit_id, now)


@dataclass(frozen=True)
class Session:
    """A half-day or so of a conference, with its check-in window and late threshold.

    Times are timezone-aware. Check-in is open from `checkin_opens_at` to `checkin_closes_at`;
    someone checked in more than `late_after_minutes` after `starts_at` is flagged late.
    """

    id: int
    conference_id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    checkin_opens_at: datetime
    checkin_closes_at: datetime
    late_after_minutes: int = 15

    def __post_init__(self) -> None:
        if not self.title:
            raise Invalid("a session needs a title", field="title")
        for name in ("starts_at", "ends_at", "checkin_opens_at", "checkin_closes_at"):
            if getattr(self, name).tzinfo is None:
                raise Invalid("session times must carry a time zone", field=name)
        if self.ends_at <= self.starts_at:
            raise Invalid("a session must end after it starts", field="ends_at")
        if self.checkin_closes_at <= self.checkin_opens_at:
            raise Invalid("check-in must close after it opens", field="checkin_closes_at")
        if not 0 <= self.late_after_minutes <= 24 * 60:
            raise Invalid("late threshold must be 0 to 1440 minutes", field="late_after_minutes")

    def checkin_open(self, moment: datetime) -> bool:
        return self.checkin_opens_at <= moment <= self.checkin_closes_at

    def is_late(self, moment: datetime) -> bool:
        return moment > self.starts_at + timedelta(minutes=self.late_after_minutes)


CHECKIN_LEAD_MAX = timedelta(hours=12)


def check_window(s: Session) -> Session:
    """A check-in window an organiser may set: it opens at the start at the latest and at most
    `CHECKIN_LEAD_MAX` before it, and closes after the start and by the end. The session itself."""
    if s.checkin_opens_at > s.starts_at:
        raise Invalid("check-in must open by the start of the session", field="checkin_opens_at")
    if s.starts_at - s.checkin_opens_at > CHECKIN_LEAD_MAX:
        raise Invalid("check-in opens at most 12 hours before the start", field="checkin_opens_at")
    if not s.starts_at < s.checkin_closes_at <= s.ends_at:
        raise Invalid("check-in must close after the start and by the end", field="checkin_closes_at")
    return s


def new_session(
    conference_id: int,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    checkin_opens_at: datetime | None = None,
    checkin_closes_at: datetime | None = None,
    late_after_minutes: int = 15,
) -> Session:
    """A session whose check-in window defaults to one hour before the start until its end."""
    return Session(
        0,
        conference_id,
        clean(title),
        starts_at,
        ends_at,
        checkin_opens_at or starts_at - timedelta(hours=1),
        checkin_closes_at or ends_at,
        late_after_minutes,
    )


@dataclass(frozen=True)
class ProgrammeItem:
    """One point of a session's programme: who presents what, with its documents."""

    id: int
    session_id: int
    position: int
    title: str
    presenter: str = ""
    document_ids: tuple[int, ...] = ()
