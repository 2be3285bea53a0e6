"""Users, roles and what each role may do, scoped to a subtree of units.

Every role except the administrator is scoped: a district organiser sees only that district's
halls and people. The rules live here, pure; the services call `authorize` before any work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from conference.errors import Forbidden, Invalid
from conference.text import clean
from conference.units import UnitTree

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


class Role(StrEnum):
    ADMIN = "admin"  # Quản trị
    ORGANISER = "organiser"  # Ban tổ chức
    HALL_CHAIR = "hall_chair"  # Chủ trì điểm cầu
    HALL_CLERK = "hall_clerk"  # Thư ký / cán bộ kỹ thuật điểm cầu
    PRESENTER = "presenter"  # Báo cáo viên
    PARTICIPANT = "participant"  # Đại biểu / đảng viên


class Action(StrEnum):
    VIEW_CONFERENCE = "view_conference"
    MANAGE_CONFERENCE = "manage_conference"  # conferences, sessions, halls, invitations
    VIEW_PEOPLE = "view_people"
    IMPORT_ROSTER = "import_roster"
    MANAGE_DEVICES = "manage_devices"
    VIEW_ATTENDANCE = "view_attendance"
    CHECK_IN_MANUALLY = "check_in_manually"
    SIGN_OFF_HALL = "sign_off_hall"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT = "view_audit"
    MANAGE_DOCUMENTS = "manage_documents"  # upload and remove a conference's documents, see their openings
    SEND_FEEDBACK = "send_feedback"  # anyone on the roster; signed or anonymous
    MANAGE_FEEDBACK = "manage_feedback"  # move feedback through its states and answer it
    VIEW_REPORTS = "view_reports"  # attendance reports and their exports
    # the livestream (web/media/access.py applies them, with scope and invitations)
    PUBLISH_MEDIA = "publish_media"  # broadcast a session of a conference organised in scope (its organisers)
    PRESENT_SESSION = "present_session"  # broadcast the sessions one is assigned to present (and only those)
    TAKE_OVER_BROADCAST = "take_over_broadcast"  # replace a live source another user owns (organisers; audited)
    CONTROL_FLOOR = "control_floor"  # order the raised hands, give and take back the floor (organiser's scope)
    WATCH_ANY_SESSION = "watch_any_session"  # watch uninvited; the others watch as invitees, which is attendance
    SPEAK_FOR_HALL = "speak_for_hall"  # run a hall's screen: raise its hand, send its camera (hall's scope)
    LIST_HALL_SCREENS = "list_hall_screens"  # the live list offers the screens of the halls in scope
    HAND_OUT_CARDS = "hand_out_cards"  # fetch a person's QR, print badge sheets (each fetch audited)
    ADMINISTER_ACCOUNTS = "administer_accounts"  # (de)activate accounts below one, change their role (`reach`)


_STAFF = {Role.ORGANISER, Role.HALL_CHAIR, Role.HALL_CLERK}
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW_CONFERENCE: frozenset(Role),
    Action.MANAGE_CONFERENCE: frozenset({Role.ORGANISER}),
    Action.VIEW_PEOPLE: frozenset(_STAFF),
    Action.IMPORT_ROSTER: frozenset({Role.ORGANISER}),
    Action.MANAGE_DEVICES: frozenset({Role.ORGANISER, Role.HALL_CLERK}),
    Action.VIEW_ATTENDANCE: frozenset(_STAFF),
    Action.CHECK_IN_MANUALLY: frozenset({Role.HALL_CLERK}),
    Action.SIGN_OFF_HALL: frozenset({Role.HALL_CHAIR}),
    Action.MANAGE_USERS: frozenset(),
    Action.VIEW_AUDIT: frozenset(),
    Action.MANAGE_DOCUMENTS: frozenset({Role.ORGANISER}),
    Action.SEND_FEEDBACK: frozenset(Role),
    Action.MANAGE_FEEDBACK: frozenset({Role.ORGANISER}),
    Action.VIEW_REPORTS: frozenset({Role.ORGANISER, Role.HALL_CHAIR}),
    Action.PUBLISH_MEDIA: frozenset({Role.ORGANISER}),
    Action.PRESENT_SESSION: frozenset({Role.PRESENTER}),
    Action.TAKE_OVER_BROADCAST: frozenset({Role.ORGANISER}),
    Action.CONTROL_FLOOR: frozenset({Role.ORGANISER}),
    Action.WATCH_ANY_SESSION: frozenset(_STAFF | {Role.PRESENTER}),
    Action.SPEAK_FOR_HALL: frozenset(_STAFF),
    Action.LIST_HALL_SCREENS: frozenset({Role.HALL_CHAIR, Role.HALL_CLERK}),
    Action.HAND_OUT_CARDS: frozenset({Role.ORGANISER, Role.HALL_CLERK}),
    Action.ADMINISTER_ACCOUNTS: frozenset({Role.ORGANISER}),
}


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    scope_unit_id: int | None  # root of the subtree the user acts in; None only for the administrator
    person_id: int | None = None  # the participant's own roster entry
    active: bool = True
    language: str = "vi"

    def __post_init__(self) -> None:
        if self.role is not Role.ADMIN and self.scope_unit_id is None:
            raise Invalid("every role but administrator needs a unit scope", field="scope_unit_id")
        if self.role is Role.PARTICIPANT and self.person_id is None:
            raise Invalid("a participant account belongs to a person", field="person_id")
        if self.language not in ("vi", "en"):
            raise Invalid("language is vi or en", field="language")


def new_user(
    username: str,
    display_name: str,
    role: Role,
    scope_unit_id: int | None,
    person_id: int | None = None,
    language: str = "vi",
) -> User:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise Invalid("username: 3-64 of a-z 0-9 . _ -, starting with a letter or digit", field="username")
    return User(0, username, clean(display_name) or username, role, scope_unit_id, person_id, True, language)


def may(user: User, action: Action) -> bool:
    """Whether the role allows the action at all (scope aside)."""
    return user.active and (user.role is Role.ADMIN or user.role in PERMISSIONS[action])


def in_scope(user: User, unit_id: int, tree: UnitTree) -> bool:
    return user.role is Role.ADMIN or (
        user.scope_unit_id is not None and tree.within(unit_id, user.scope_unit_id)
    )


def authorize(user: User, action: Action, unit_id: int | None, tree: UnitTree) -> None:
    """Raise Forbidden unless the user's role allows `action` on `unit_id` (None: no unit involved)."""
    if not may(user, action):
        raise Forbidden(f"role {user.role} may not {action}")
    if unit_id is not None and not in_scope(user, unit_id, tree):
        raise Forbidden(f"unit {unit_id} is outside the user's scope")


def covers(user: User, organiser_unit_id: int, tree: UnitTree) -> bool:
    """Whether a conference presented by `organiser_unit_id` concerns the user.

    It does when the organiser unit lies in the user's subtree (they organise it or a part below),
    or when the user's scope lies below the organiser (the conference is presented to them).
    """
    if user.role is Role.ADMIN:
        return True
    scope = user.scope_unit_id
    assert scope is not None
    return tree.within(organiser_unit_id, scope) or tree.within(scope, organiser_unit_id)


def _below(actor: User, role: Role, scope_unit_id: int | None, tree: UnitTree) -> bool:
    """Whether an account of `role` over `scope_unit_id` ranks below `actor`: the administrator is above
    everyone else; an organiser above the accounts of their subtree, organisers only of a unit strictly
    below their own (a peer over the same unit is not below)."""
    if actor.role is Role.ADMIN:
        return role is not Role.ADMIN
    if actor.role is not Role.ORGANISER or role is Role.ADMIN or scope_unit_id is None:
        return False
    assert actor.scope_unit_id is not None
    if not tree.within(scope_unit_id, actor.scope_unit_id):
        return False
    return role is not Role.ORGANISER or scope_unit_id != actor.scope_unit_id


def reach(actor: User, target: User, tree: UnitTree, role: Role | None = None,
          scope_unit_id: int | None = None) -> None:
    """Raise Forbidden unless `actor` may administer `target` (activate, deactivate, change the role):
    `ADMINISTER_ACCOUNTS`, never one's own account, only an account below one (`_below`), and, with a new
    `role` and `scope_unit_id`, only to an account still below one: nobody is raised to one's own rank or
    above it, nor given a scope outside one's own."""
    authorize(actor, Action.ADMINISTER_ACCOUNTS, None, tree)
    if target.id == actor.id:
        raise Forbidden("an account is not administered by itself")
    if not _below(actor, target.role, target.scope_unit_id, tree):
        raise Forbidden(f"account {target.id} is not below {actor.role} {actor.username}'s rank and scope")
    if role is not None and not _below(actor, role, scope_unit_id, tree):
        raise Forbidden(f"{role} over unit {scope_unit_id} would not be below {actor.role} {actor.username}")
