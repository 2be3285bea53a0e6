"""The conference services: every use case an organiser, a hall operator or a participant has,
with role and unit-scope checks done here, before any work, never in templates or handlers."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from conference.accounts import Action, Role, User, authorize, covers, in_scope, may, new_user
from conference.audit import AuditAction, AuditCategory, AuditEntry, actions_of
from conference.conferences import Conference, ConferenceMode, Session, new_conference, new_session
from conference.errors import Forbidden, Invalid, NotAuthenticated, NotFound
from conference.feedback import (
    RECEIPT_ALPHABET,
    RECEIPT_LENGTH,
    Feedback,
    FeedbackKind,
    FeedbackState,
    escalation_target,
    format_receipt,
    new_feedback,
    normalise_receipt,
    receipt_hash,
)
from conference.halls import Channel, Hall, HallRole, new_hall
from conference.passwords import Passwords
from conference.people import Person
from conference.store import ConferenceStore
from conference.units import Unit, UnitTree

Clock = Callable[[], datetime]
PASSWORD_MIN = 8


@dataclass(frozen=True)
class PeoplePage:
    unit: Unit
    people: list[Person]
    total: int


@dataclass(frozen=True)
class FeedbackView:
    """Feedback as a page shows it: names resolved, and whether the viewer may move it on."""

    feedback: Feedback
    author_name: str  # "" when anonymous
    unit_name: str
    handler_name: str
    conference_title: str
    may_act: bool


@dataclass(frozen=True)
class FeedbackPage:
    items: list[FeedbackView]
    total: int
    root: Unit | None  # the unit whose subtree is listed (None: every unit, for the administrator)


@dataclass(frozen=True)
class ReportScope:
    """What a session report covers, checked: the tree as it stood on the session's day, the unit whose
    subtree is reported, the halls hosted in it and the invitees of those halls or units."""

    conference: Conference
    session: Session
    tree: UnitTree
    root: Unit
    halls: list[Hall]
    invitees: list[tuple[Person, int, int]]  # (person, hall id, the unit they were invited from)


@dataclass(frozen=True)
class AuditPage:
    entries: list[tuple[int, AuditEntry]]
    total: int
    users: dict[int, User]


class ConferenceService:
    def __init__(self, store: ConferenceStore, passwords: Passwords, clock: Clock,
                 tree_ttl_seconds: float = 5.0) -> None:
        self.store = store
        self.passwords = passwords
        self.clock = clock
        self._tree_ttl = tree_ttl_seconds
        self._units: tuple[float, list[Unit]] | None = None
        self._units_lock = asyncio.Lock()

    # -- the unit tree ------------------------------------------------------------------------------
    async def units(self) -> list[Unit]:
        """Every unit, cached for a few seconds (other processes' roster imports show up after that)."""
        async with self._units_lock:
            if self._units is None or time.monotonic() - self._units[0] > self._tree_ttl:
                self._units = (time.monotonic(), await self.store.all_units())
            return self._units[1]

    def forget_units(self) -> None:
        self._units = None

    async def tree(self, day: date | None = None) -> UnitTree:
        """The tree as it stands today, or as it stood on `day`."""
        return UnitTree(await self.units(), day or self.clock().date())

    # -- accounts -----------------------------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> User:
        found = await self.store.user_with_hash(username.strip().lower())
        ok = self.passwords.verify(found[1] if found else None, password)
        if not found or not ok or not found[0].active:
            await self.store.audit(AuditEntry(self.clock(), found[0].id if found else None,
                                              AuditAction.SIGN_IN_FAILED, f"username:{username[:60]}"))
            raise NotAuthenticated("wrong username or password")
        user, stored = found
        if self.passwords.needs_rehash(stored):
            await self.store.set_password_hash(user.id, self.passwords.hash(password))
        await self.store.audit(AuditEntry(self.clock(), user.id, AuditAction.SIGN_IN, f"user:{user.id}"))
        return user

    async def user(self, user_id: int) -> User | None:
        user = await self.store.get_user(user_id)
        return user if user and user.active else None

    async def create_user(
        self, actor: User | None, username: str, display_name: str, role: Role, password: str,
        scope_unit_id: int | None, person_id: int | None = None, language: str = "vi",
    ) -> User:
        """Create an account. `actor` None is the command line (the machine's own operator)."""
        if actor is not None:
            authorize(actor, Action.MANAGE_USERS, None, await self.tree())
        if len(password) < PASSWORD_MIN:
            raise Invalid(f"a password has at least {PASSWORD_MIN} characters", field="password")
        if scope_unit_id is not None and scope_unit_id not in await self.tree():
            raise Invalid(f"unit {scope_unit_id} does not exist", field="scope_unit_id")
        if role is Role.PARTICIPANT and person_id is not None:
            person = await self.store.get_person(person_id)
            scope_unit_id = person.unit_id
        user = new_user(username, display_name, role, scope_unit_id, person_id, language)
        created = await self.store.add_user(user, self.passwords.hash(password), self.clock())
        await self.store.audit(AuditEntry(self.clock(), actor.id if actor else None, AuditAction.USER_CHANGE,
                                          f"user:{created.id}", f"created {role}"))
        return created

    async def set_language(self, actor: User, language: str) -> None:
        if language not in ("vi", "en"):
            raise Invalid("language is vi or en", field="language")
        await self.store.set_language(actor.id, language)

    # -- conferences --------------------------------------------------------------------------------
    async def conferences(self, actor: User) -> list[Conference]:
        tree = await self.tree()
        authorize(actor, Action.VIEW_CONFERENCE, None, tree)
        return [c for c in await self.store.list_conferences() if covers(actor, c.organiser_unit_id, tree)]

    async def conference(self, actor: User, conference_id: int) -> Conference:
        conf = await self.store.get_conference(conference_id)
        tree = await self.tree()
        authorize(actor, Action.VIEW_CONFERENCE, None, tree)
        if not covers(actor, conf.organiser_unit_id, tree):
            raise Forbidden("this conference is outside the user's scope")
        return conf

    async def create_conference(
        self, actor: User, title: str, topic: str, mode: ConferenceMode, organiser_unit_id: int
    ) -> Conference:
        tree = await self.tree()
        tree.get(organiser_unit_id)  # NotFound: the organiser must be a unit of today's tree
        authorize(actor, Action.MANAGE_CONFERENCE, organiser_unit_id, tree)
        return await self.store.add_conference(
            new_conference(title, topic, mode, organiser_unit_id, self.clock()))

    async def _managed(self, actor: User, conference_id: int) -> Conference:
        conf = await self.store.get_conference(conference_id)
        authorize(actor, Action.MANAGE_CONFERENCE, conf.organiser_unit_id, await self.tree())
        return conf

    async def sessions(self, actor: User, conference_id: int) -> list[Session]:
        await self.conference(actor, conference_id)
        return await self.store.sessions_of(conference_id)

    async def session(self, actor: User, session_id: int) -> tuple[Conference, Session]:
        session = await self.store.get_session(session_id)
        return await self.conference(actor, session.conference_id), session

    async def add_session(
        self, actor: User, conference_id: int, title: str, starts_at: datetime, ends_at: datetime,
        late_after_minutes: int = 15,
    ) -> Session:
        await self._managed(actor, conference_id)
        return await self.store.add_session(
            new_session(conference_id, title, starts_at, ends_at, late_after_minutes=late_after_minutes))

    # -- halls --------------------------------------------------------------------------------------
    async def halls(self, actor: User, conference_id: int) -> list[Hall]:
        """The conference's halls the actor may see: those hosted inside their scope."""
        await self.conference(actor, conference_id)
        tree = await self.tree()
        return [h for h in await self.store.halls_of(conference_id) if in_scope(actor, h.unit_id, tree)]

    async def hall(self, actor: User, hall_id: int, action: Action = Action.VIEW_CONFERENCE) -> Hall:
        """One hall, after checking the actor may do `action` at its host unit."""
        hall = await self.store.get_hall(hall_id)
        authorize(actor, action, hall.unit_id, await self.tree())
        return hall

    async def add_hall(
        self, actor: User, conference_id: int, unit_id: int, name: str, role: HallRole, channel: Channel,
        chair: str = "", technical_contact: str = "",
    ) -> Hall:
        await self._managed(actor, conference_id)
        tree = await self.tree()
        authorize(actor, Action.MANAGE_CONFERENCE, unit_id, tree)
        return await self.store.add_hall(new_hall(conference_id, unit_id, name or tree.get(unit_id).name,
                                                  tree.level(unit_id), role, channel, chair, technical_contact))

    # -- people -------------------------------------------------------------------------------------
    async def people(self, actor: User, unit_id: int, query: str = "", limit: int = 50,
                     offset: int = 0) -> PeoplePage:
        """Persons of a unit's subtree, searched without diacritics. Logged: it is personal data."""
        tree = await self.tree()
        if unit_id not in tree:
            raise NotFound(f"unit {unit_id} not found")
        authorize(actor, Action.VIEW_PEOPLE, unit_id, tree)
        if not 1 <= limit <= 500 or offset < 0:
            raise Invalid("limit is 1 to 500, offset not negative", field="limit")
        people, total = await self.store.find_persons(tree.subtree_ids(unit_id), query, limit, offset)
        await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.VIEW_PEOPLE, f"unit:{unit_id}",
                                          f"q={query[:50]!r} n={len(people)}"))
        return PeoplePage(tree.get(unit_id), people, total)

    async def person(self, actor: User, person_id: int) -> Person:
        person = await self.store.get_person(person_id)
        if actor.person_id == person_id:
            return person
        authorize(actor, Action.VIEW_PEOPLE, person.unit_id, await self.tree())
        await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.VIEW_PEOPLE, f"person:{person_id}"))
        return person

    async def hall_invitees(self, hall_id: int, query: str = "", limit: int = 50) -> tuple[Hall, list[Person]]:
        """For a kiosk already verified as bound to `hall_id`: its invitees, searched without diacritics."""
        if not 1 <= limit <= 200:
            raise Invalid("limit is 1 to 200", field="limit")
        hall = await self.store.get_hall(hall_id)
        return hall, await self.store.find_invitees(hall_id, query, limit)

    async def record_manual_attendance(self, actor: User | None, person_id: int, detail: str,
                                       device_id: int | None = None) -> None:
        """Manual attendance changes are audited: by a signed-in operator, or by a kiosk (`device_id`)."""
        await self.store.audit(AuditEntry(self.clock(), actor.id if actor else None, AuditAction.MANUAL_ATTENDANCE,
                                          f"person:{person_id}", detail, device_id))

    # -- participants -------------------------------------------------------------------------------
    async def my_conferences(self, actor: User) -> list[tuple[Conference, list[Session]]]:
        """A participant's home: the conferences that concern them, each with its sessions."""
        if not may(actor, Action.VIEW_CONFERENCE):
            raise Forbidden("inactive account")
        out = []
        for conf in await self.conferences(actor):
            out.append((conf, await self.store.sessions_of(conf.id)))
        return out

    # -- feedback (ý kiến – đề xuất) ------------------------------------------------------------------
    async def all_time_tree(self) -> UnitTree:
        """Every unit that ever existed, merged ones included: feedback keeps the unit it was sent from."""
        return UnitTree(await self.units())

    async def send_feedback(self, actor: User, kind: FeedbackKind, content: str, conference_id: int | None,
                            anonymous: bool) -> tuple[Feedback, str | None]:
        """Record feedback from a member on the roster, tied to their unit; returns it and, when anonymous,
        the receipt code (shown once) that lets the author read the answer. Anonymous feedback is not
        audited and keeps nothing that links it to its author."""
        authorize(actor, Action.SEND_FEEDBACK, None, await self.tree())
        if actor.person_id is None:
            raise Forbidden("only members on the roster send feedback")
        person = await self.store.get_person(actor.person_id)
        if conference_id is not None:
            await self.conference(actor, conference_id)
        fb = new_feedback(kind, content, person.unit_id, None if anonymous else person.id, conference_id,
                          self.clock(), anonymous)
        if not anonymous:
            return await self.store.add_feedback(fb), None
        raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
        return await self.store.add_feedback(fb, receipt_hash(raw)), format_receipt(raw)

    async def my_feedback(self, actor: User) -> list[FeedbackView]:
        """The actor's own signed feedback, newest first, with the answers."""
        if actor.person_id is None:
            return []
        return await self._views(actor, await self.store.feedback_of_author(actor.person_id), mine=True)

    async def feedback_by_receipt(self, code: str) -> FeedbackView:
        """Anonymous feedback, for whoever holds its receipt code (NotFound for any other code)."""
        normal = normalise_receipt(code)
        fb = await self.store.feedback_by_receipt(receipt_hash(normal)) if normal else None
        if fb is None:
            raise NotFound("no feedback has this receipt code")
        tree = await self.all_time_tree()
        return FeedbackView(fb, "", self._unit_name(tree, fb.unit_id), self._unit_name(tree, fb.handler), "", False)

    async def feedback_list(
        self, actor: User, unit_id: int | None = None, conference_id: int | None = None,
        state: FeedbackState | None = None, kind: FeedbackKind | None = None, limit: int = 50, offset: int = 0,
    ) -> FeedbackPage:
        """Feedback sent from the subtree of `unit_id` (default: the actor's scope), for its organisers.
        Listing named authors is a view of personal data, and is logged."""
        tree = await self.all_time_tree()
        root_id = unit_id if unit_id is not None else actor.scope_unit_id
        authorize(actor, Action.MANAGE_FEEDBACK, root_id, tree)
        if not 1 <= limit <= 500 or offset < 0:
            raise Invalid("limit is 1 to 500, offset not negative", field="limit")
        root = tree.get(root_id) if root_id is not None else None
        found, total = await self.store.find_feedback(tree.subtree_ids(root.id) if root else None, conference_id,
                                                      state, kind, limit, offset)
        views = await self._views(actor, found)
        named = sum(1 for v in views if v.author_name)
        if named:
            await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.VIEW_PEOPLE,
                                              f"unit:{root.id}" if root else "unit:*", f"feedback authors n={named}"))
        return FeedbackPage(views, total, root)

    async def feedback_item(self, actor: User, feedback_id: int) -> FeedbackView:
        """One feedback: for its (signed) author, or for organisers whose scope holds the unit it came from."""
        fb = await self.store.get_feedback(feedback_id)
        if fb.author_person_id is not None and fb.author_person_id == actor.person_id:
            return (await self._views(actor, [fb], mine=True))[0]
        authorize(actor, Action.MANAGE_FEEDBACK, fb.unit_id, await self.all_time_tree())
        view = (await self._views(actor, [fb]))[0]
        if view.author_name:
            await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.VIEW_PEOPLE,
                                              f"person:{fb.author_person_id}", f"feedback:{fb.id}"))
        return view

    async def move_feedback(self, actor: User, feedback_id: int, to: FeedbackState, answer: str = "") -> Feedback:
        """Move feedback on (and answer it): organisers whose scope holds the unit now handling it."""
        fb = await self.store.get_feedback(feedback_id)
        tree = await self.all_time_tree()
        authorize(actor, Action.MANAGE_FEEDBACK, fb.handler, tree)
        target = escalation_target(fb.handler, actor.scope_unit_id, tree) if to is FeedbackState.ESCALATED else None
        moved = fb.move(to, self.clock(), answer, actor.id, target)
        await self.store.update_feedback(fb, moved)
        await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.FEEDBACK_CHANGE, f"feedback:{fb.id}",
                                          f"{fb.state} -> {moved.state}"
                                          + (f", to unit {target}" if target is not None else "")))
        return moved

    async def _views(self, actor: User, items: list[Feedback], mine: bool = False) -> list[FeedbackView]:
        tree = await self.all_time_tree()
        people = await self.store.persons_by_ids(f.author_person_id for f in items if f.author_person_id)
        titles: dict[int, str] = {}
        for conf_id in {f.conference_id for f in items if f.conference_id is not None}:
            try:
                titles[conf_id] = (await self.store.get_conference(conf_id)).title
            except NotFound:
                titles[conf_id] = ""
        out = []
        for f in items:
            author = people.get(f.author_person_id) if f.author_person_id else None
            act = not mine and may(actor, Action.MANAGE_FEEDBACK) and in_scope(actor, f.handler, tree)
            out.append(FeedbackView(f, author.full_name if author else "", self._unit_name(tree, f.unit_id),
                                    self._unit_name(tree, f.handler),
                                    titles.get(f.conference_id, "") if f.conference_id else "", act))
        return out

    @staticmethod
    def _unit_name(tree: UnitTree, unit_id: int) -> str:
        return tree.get(unit_id).name if unit_id in tree else ""

    # -- reports -------------------------------------------------------------------------------------
    async def report_scope(self, actor: User, session_id: int, unit_id: int | None, zone: tzinfo) -> ReportScope:
        """Check that the actor may see the report of a session for the subtree of `unit_id` (default: the
        conference's organising unit, or the actor's scope below it), with the tree as it stood that day."""
        session = await self.store.get_session(session_id)
        conf = await self.conference(actor, session.conference_id)
        tree = await self.tree(session.starts_at.astimezone(zone).date())
        root = self._report_root(actor, conf, unit_id, tree)
        subtree = tree.subtree_ids(root.id)
        halls = [h for h in await self.store.halls_of(conf.id) if h.unit_id in subtree]
        hall_ids = {h.id for h in halls}
        invitees = [(p, hall, unit) for p, hall, unit in await self.store.invitees_of(conf.id)
                    if hall in hall_ids or unit in subtree]
        return ReportScope(conf, session, tree, root, halls, invitees)

    async def report_root(self, actor: User, conference_id: int, unit_id: int | None) -> Unit:
        """The unit a conference report covers by default (or `unit_id`), checked, in today's tree."""
        conf = await self.conference(actor, conference_id)
        return self._report_root(actor, conf, unit_id, await self.tree())

    @staticmethod
    def _report_root(actor: User, conf: Conference, unit_id: int | None, tree: UnitTree) -> Unit:
        authorize(actor, Action.VIEW_REPORTS, None, tree)
        if unit_id is None:
            scope = actor.scope_unit_id
            unit_id = (conf.organiser_unit_id if scope is None or scope not in tree
                       or tree.within(conf.organiser_unit_id, scope) else scope)
        root = tree.get(unit_id)
        authorize(actor, Action.VIEW_REPORTS, root.id, tree)
        return root

    async def log_personal_data(self, actor: User, exported: bool, subject: str, detail: str) -> None:
        """Record that the actor saw (or exported) personal data: absentee lists, named authors."""
        action = AuditAction.EXPORT_PEOPLE if exported else AuditAction.VIEW_PEOPLE
        await self.store.audit(AuditEntry(self.clock(), actor.id, action, subject[:100], detail))

    # -- the audit log -------------------------------------------------------------------------------
    async def audit_view(
        self, actor: User, category: AuditCategory | None = None, username: str = "",
        since: datetime | None = None, until: datetime | None = None, limit: int = 100, offset: int = 0,
    ) -> AuditPage:
        """The audit log for the administrator, newest first, filtered; reading it is itself logged."""
        authorize(actor, Action.VIEW_AUDIT, None, await self.tree())
        if not 1 <= limit <= 1000 or offset < 0:
            raise Invalid("limit is 1 to 1000, offset not negative", field="limit")
        actor_id: int | None = None
        if username.strip():
            found = await self.store.user_by_name(username.strip().lower())
            if found is None:
                return AuditPage([], 0, {})
            actor_id = found.id
        entries, total = await self.store.audit_page(actions_of(category), actor_id, since, until, limit, offset)
        users = await self.store.users_by_ids(e.actor_user_id for _, e in entries if e.actor_user_id)
        await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.VIEW_AUDIT, "audit",
                                          f"category={category or '*'} user={username[:40]!r} n={len(entries)}"))
        return AuditPage(entries, total, users)

    async def users_named(self, ids: list[int]) -> dict[int, User]:
        return await self.store.users_by_ids(ids)
