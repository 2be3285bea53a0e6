"""Headcounts (báo cáo số lượng) from halls that cannot check every person in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from attendance.errors import InvalidRecord


@dataclass(frozen=True)
class Headcount:
    session_id: int
    hall_id: int
    expected: int
    present: int
    absent_excused: int
    absent_unexcused: int
    reported_by_user_id: int | None
    reported_at: datetime

    def __post_init__(self) -> None:
        numbers = (self.expected, self.present, self.absent_excused, self.absent_unexcused)
        if any(n < 0 for n in numbers):
            raise InvalidRecord("counts cannot be negative", field="present")
        if self.present + self.absent_excused + self.absent_unexcused > self.expected:
            raise InvalidRecord("present and absent together exceed the expected count", field="present")
