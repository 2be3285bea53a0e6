"""The report and audit use cases, a part of `ConferenceService`: what a session or conference report
covers (checked: the tree as it stood that day, the unit reported, its halls and invitees), the record
that personal data was seen or exported, and the administrator's view of the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from conference.accounts import Action, User, authorize
from conference.audit import AuditAction, AuditCategory, AuditEntry, actions_of
from conference.conferences import Conference, Session
from conference.errors import Invalid
from conference.halls import Hall
from conference.people import Person
from conference.service_base import ServiceBase
from conference.units import Unit, UnitTree


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


class ReportDesk(ServiceBase):
    """Reports and the audit log: a part of `ConferenceService`."""

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
