"""Administering accounts, a part of `ConferenceService`: the administrator and organisers list the staff
accounts below them, deactivate and reactivate them and change their role or scope (`reach` in
conference/accounts.py says who may do it to whom). Each change is audited and ends every session of
the account at once (its session version), its live sockets and media on every hub included (the
`sessions_ended` listeners). `actor` None is the command line (the machine's own operator)."""

from __future__ import annotations

from conference.accounts import Action, Role, User, authorize, reach
from conference.audit import AuditAction, AuditEntry
from conference.errors import Forbidden, Invalid, NotFound
from conference.service_base import ServiceBase

LIST_MAX = 500


class AccountDesk(ServiceBase):
    async def administrable(self, actor: User) -> list[User]:
        """The staff accounts `actor` may administer (at most LIST_MAX, by username)."""
        tree = await self.tree()
        authorize(actor, Action.ADMINISTER_ACCOUNTS, None, tree)
        units = None if actor.role is Role.ADMIN else tree.subtree_ids(actor.scope_unit_id or 0)
        found = await self.store.staff_users(units, LIST_MAX + 1)
        below = []
        for user in found:
            try:
                reach(actor, user, tree)
            except Forbidden:  # not below the actor (a peer organiser, say)
                continue
            below.append(user)
        return below[:LIST_MAX]

    async def _target(self, actor: User | None, user_id: int, role: Role | None = None,
                      scope_unit_id: int | None = None) -> User:
        target = await self.store.get_user(user_id)
        if target is None:
            raise NotFound(f"user {user_id} not found")
        if actor is not None:
            reach(actor, target, await self.tree(), role, scope_unit_id)
        return target

    async def set_active(self, actor: User | None, user_id: int, active: bool) -> User:
        """Activate or deactivate an account; every session of it ends, and its sockets on every hub."""
        target = await self._target(actor, user_id)
        await self.store.set_active(user_id, active)
        await self._changed(actor, target, "reactivated" if active else "deactivated")
        return await self._target(None, user_id)

    async def set_role(self, actor: User | None, user_id: int, role: Role, scope_unit_id: int | None) -> User:
        """Give an account another role or scope (the administrator has none); every session of it ends."""
        target = await self._target(actor, user_id, role, scope_unit_id)
        if role is Role.ADMIN:
            scope_unit_id = None
        elif scope_unit_id is None or scope_unit_id not in await self.tree():
            raise Invalid(f"unit {scope_unit_id} does not exist", field="scope_unit_id")
        if role is Role.PARTICIPANT and target.person_id is None:
            raise Invalid("a participant account belongs to a person: this account has none", field="role")
        await self.store.set_role(user_id, role, scope_unit_id)
        await self._changed(actor, target, f"role {target.role} over {target.scope_unit_id} -> {role} over "
                                           f"{scope_unit_id}")
        return await self._target(None, user_id)

    async def user_named(self, username: str) -> User:
        """The account of `username` (the command line's way of naming one)."""
        user = await self.store.user_by_name(username.strip().lower())
        if user is None:
            raise NotFound(f"no account {username!r}")
        return user

    async def _changed(self, actor: User | None, target: User, detail: str) -> None:
        await self.store.audit(AuditEntry(self.clock(), actor.id if actor else None, AuditAction.USER_CHANGE,
                                          f"user:{target.id}", detail))
        await self._sessions_ended(target.id)
