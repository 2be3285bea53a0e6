"""Persons (đảng viên, khách mời): who may be expected at a conference."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from conference.errors import Invalid
from conference.text import clean, fold

NAME_MAX = 120
POSITION_MAX = 200


class MemberType(StrEnum):
    FULL = "full"  # đảng viên chính thức
    PROBATIONARY = "probationary"  # đảng viên dự bị
    GUEST = "guest"  # khách mời


@dataclass(frozen=True)
class Person:
    """A person on the roster. `code` is the organisation's own roster code, never a citizen ID."""

    id: int
    code: str
    full_name: str
    unit_id: int
    position: str = ""
    member_type: MemberType = MemberType.FULL
    exempt: bool = False  # miễn sinh hoạt: not counted as expected

    @property
    def search_key(self) -> str:
        return fold(self.full_name)

    @property
    def counts_as_expected(self) -> bool:
        return not self.exempt


def new_person(
    code: str,
    full_name: str,
    unit_id: int,
    position: str = "",
    member_type: MemberType = MemberType.FULL,
    exempt: bool = False,
) -> Person:
    """A person not yet stored (id 0), with text cleaned and checked."""
    code, full_name, position = clean(code), clean(full_name), clean(position)
    if not code:
        raise Invalid("a person needs a roster code", field="code")
    if not full_name:
        raise Invalid("a person needs a name", field="full_name")
    if len(full_name) > NAME_MAX:
        raise Invalid(f"a name has at most {NAME_MAX} characters", field="full_name")
    if len(position) > POSITION_MAX:
        raise Invalid(f"a position has at most {POSITION_MAX} characters", field="position")
    return Person(0, code, full_name, unit_id, position, member_type, exempt)
