"""The conference services: every use case an organiser, a hall operator or a participant has,
with role and unit-scope checks done here, before any work, never in templates or handlers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from conference.accounts import Action, Role, User, authorize, in_scope, may, new_user
from conference.audit import AuditAction, AuditEntry
from conference.conferences import Conference, ConferenceMode, Session, check_window, new_conference, new_session
from conference.errors import Forbidden, Invalid, NotAuthenticated, NotFound
from conference.halls import Channel, Hall, HallRole, new_hall
from conference.people import Person
from conference.service_accounts import AccountDesk
from conference.service_feedback import FeedbackDesk
from conference.service_reports import ReportDesk
from conference.units import Unit

PASSWORD_MIN = 8


@dataclass(frozen=True)
class PeoplePage:
    unit: Unit
    people: list[Person]
    total: int


class ConferenceService(FeedbackDesk, ReportDesk, AccountDesk):
    """Every conference use case: accounts, conferences, sessions, halls, people and participants here;
    feedback in `conference/service_feedback.py`, reports and the audit log in `conference/service_reports.py`,
    administering accounts (deactivation, role changes) in `conference/service_accounts.py`,
    the unit tree and the "concerns the actor" check in `conference/service_base.py`."""

    # -- accounts -----------------------------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> User:
        """The account whose password this is; the hash is checked in the password pool, off the event loop."""
        found = await self.store.user_with_hash(username.strip().lower())
        ok = await self.passwords.check(found[1] if found else None, password)
        if not found or not ok or not found[0].active:
            await self.store.audit(AuditEntry(self.clock(), found[0].id if found else None,
                                              AuditAction.SIGN_IN_FAILED, f"username:{username[:60]}"))
            raise NotAuthenticated("wrong username or password")
        user, stored = found
        if self.passwords.needs_rehash(stored):
            await self.store.set_password_hash(user.id, await self.passwords.make(password))
        await self.store.audit(AuditEntry(self.clock(), user.id, AuditAction.SIGN_IN, f"user:{user.id}"))
        return user

    async def session_version(self, user: User) -> int:
        """The account's session version, which its session cookies carry."""
        found = await self.store.user_for_session(user.id)
        if found is None:
            raise NotAuthenticated("the account no longer exists")
        return found[1]

    async def user(self, user_id: int) -> User | None:
        user = await self.store.get_user(user_id)
        return user if user and user.active else None

    async def session_user(self, user_id: int, version: object) -> User | None:
        """The account a session cookie names, if it is active and the cookie's version is the account's
        current one: sign-out, deactivation, a role change or a password change raise it."""
        found = await self.store.user_for_session(user_id)
        if found is None or not found[0].active or found[1] != version:
            return None
        return found[0]

    async def end_sessions(self, actor: User) -> int:
        """Sign the account out everywhere: every session of it ends. The new session version."""
        version = await self.store.end_sessions(actor.id)
        await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.USER_CHANGE, f"user:{actor.id}",
                                          "signed out everywhere"))
        await self._sessions_ended(actor.id)
        return version

    async def change_password(self, actor: User, current: str, new: str) -> int:
        """The account's own password, the current one required; every session of the account ends. The new
        session version (the session that made the change carries on with it)."""
        found = await self.store.user_with_hash(actor.username)
        if found is None or found[0].id != actor.id or not await self.passwords.check(found[1], current):
            await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.SIGN_IN_FAILED,
                                              f"username:{actor.username[:60]}", "password change"))
            raise NotAuthenticated("the current password is wrong")
        if len(new) < PASSWORD_MIN:
            raise Invalid(f"a password has at least {PASSWORD_MIN} characters", field="new_password")
        if new == current:
            raise Invalid("the new password is the current one", field="new_password")
        version = await self.store.end_sessions(actor.id, password_hash=await self.passwords.make(new))
        await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.USER_CHANGE, f"user:{actor.id}",
                                          "password changed"))
        await self._sessions_ended(actor.id)
        return version

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
        created = await self.store.add_user(user, await self.passwords.make(password), self.clock())
        await self.store.audit(AuditEntry(self.clock(), actor.id if actor else None, AuditAction.USER_CHANGE,
                                          f"user:{created.id}", f"created {role}"))
        return created

    async def set_language(self, actor: User, language: str) -> None:
        if language not in ("vi", "en"):
            raise Invalid("language is vi or en", field="language")
        await self.store.set_language(actor.id, language)

    # -- conferences --------------------------------------------------------------------------------
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
        return await self.store.add_session(check_window(
            new_session(conference_id, title, starts_at, ends_at, late_after_minutes=late_after_minutes)))

    async def edit_session(
        self, actor: User, session_id: int, starts_at: datetime, ends_at: datetime,
        checkin_opens_at: datetime | None = None, checkin_closes_at: datetime | None = None,
        late_after_minutes: int | None = None,
    ) -> Session:
        """Move a session's times and check-in window (the conference's organisers); a window not given keeps
        its distance to the start and to the end. Invalid, naming the field, for a session ending before it
        starts or a window `check_window` refuses."""
        s = await self.store.get_session(session_id)
        await self._managed(actor, s.conference_id)
        return await self.store.update_session(check_window(replace(
            s, starts_at=starts_at, ends_at=ends_at,
            checkin_opens_at=checkin_opens_at or starts_at - (s.starts_at - s.checkin_opens_at),
            checkin_closes_at=checkin_closes_at or ends_at - (s.ends_at - s.checkin_closes_at),
            late_after_minutes=s.late_after_minutes if late_after_minutes is None else late_after_minutes)))

    async def assign_presenter(self, actor: User, session_id: int, user_id: int) -> None:
        """Assign an account to present a session (the conference's organisers); it may then broadcast it."""
        session = await self.store.get_session(session_id)
        await self._managed(actor, session.conference_id)
        if await self.store.get_user(user_id) is None:
            raise NotFound(f"user {user_id} not found")
        await self.store.assign_presenter(session_id, user_id)
        await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.USER_CHANGE, f"user:{user_id}",
                                          f"presents session {session_id}"))

    async def presents(self, user: User, session_id: int) -> bool:
        """Whether the user is assigned to present the session."""
        return user.id in await self.store.presenters_of(session_id)

    async def record_takeover(self, actor: User, session_id: int, previous_user_id: int | None) -> None:
        """An organiser's broadcast replaced another user's live source: audited."""
        await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.BROADCAST_TAKEOVER,
                                          f"session:{session_id}", f"replaced user:{previous_user_id}"))

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

    async def hall_and_conference(self, actor: User, hall_id: int,
                                  action: Action = Action.VIEW_CONFERENCE) -> tuple[Hall, Conference]:
        """One hall and the conference it takes part in, after checking the actor may do `action` at the
        hall's host unit (its staff need not see the whole conference)."""
        hall = await self.hall(actor, hall_id, action)
        return hall, await self.store.get_conference(hall.conference_id)

    async def hall_candidates(self, actor: User, conference_id: int) -> list[Unit]:
        """The units that may still host a hall of the conference: those in the actor's scope (every unit for
        an actor without one) that host none of its halls yet, whoever's scope those halls are in."""
        await self.conference(actor, conference_id)
        hosted = {h.unit_id for h in await self.store.halls_of(conference_id)}
        tree = await self.tree()
        root = actor.scope_unit_id
        return [u for u in (tree.walk(root) if root is not None else tree.walk()) if u.id not in hosted]

    async def kiosk_programme(self, hall_id: int) -> tuple[Hall, Conference, list[Session]]:
        """For a kiosk already verified as bound to `hall_id`: its hall, the conference and the conference's
        sessions, earliest first, for the operator to pick one."""
        hall = await self.store.get_hall(hall_id)
        conf = await self.store.get_conference(hall.conference_id)
        return hall, conf, sorted(await self.store.sessions_of(conf.id), key=lambda s: s.starts_at)

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

    async def count_hall_invitees(self, hall_id: int, query: str = "") -> int:
        """How many of the hall's invitees `hall_invitees` finds for `query`, without its limit."""
        return await self.store.count_invitees(hall_id, query)

    async def record_device_change(self, user_id: int | None, device_id: int | None, subject: str,
                                   detail: str) -> None:
        """A kiosk's enrolment code, enrolment or revocation (attendance/service.py's DeviceService tells it)."""
        await self.store.audit(AuditEntry(self.clock(), user_id, AuditAction.DEVICE_CHANGE, subject, detail,
                                          device_id))

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
