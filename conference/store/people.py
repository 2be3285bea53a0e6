"""The conference store, its people part: the unit tree, persons, roster imports (one transaction each)
and user accounts. Rows go in and out as the pure records of this package; nothing here decides a rule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from conference import tables as t
from conference.accounts import Role, User
from conference.audit import AuditAction
from conference.errors import Conflict, NotFound
from conference.people import Person
from conference.store.rows import CHUNK, StoreBase, insert_id, person_of, person_values, unit_of, unit_values, user_of
from conference.text import fold
from conference.units import Unit


@dataclass(frozen=True)
class ImportCounts:
    units_added: int = 0
    units_changed: int = 0
    persons_added: int = 0
    persons_changed: int = 0

    @property
    def changed_anything(self) -> bool:
        return any((self.units_added, self.units_changed, self.persons_added, self.persons_changed))


class PeopleStore(StoreBase):
    """Units, persons, roster imports and users: a part of `ConferenceStore`."""

    # -- units -------------------------------------------------------------------------------------
    async def all_units(self) -> list[Unit]:
        async with self.engine.connect() as c:
            return [unit_of(r) for r in await c.execute(select(t.units).order_by(t.units.c.id))]

    async def add_unit(self, unit: Unit) -> Unit:
        async with self.engine.begin() as c:
            try:
                uid = await insert_id(c, insert(t.units).values(unit_values(unit)))
            except IntegrityError:
                raise Conflict(f"unit code {unit.code} already exists") from None
        return Unit(uid, unit.code, unit.name, unit.type, unit.parent_id, unit.valid_from, unit.valid_to)

    async def set_unit_validity(self, unit_id: int, valid_to: Any) -> None:
        async with self.engine.begin() as c:
            await c.execute(update(t.units).where(t.units.c.id == unit_id).values(valid_to=valid_to))

    # -- persons -----------------------------------------------------------------------------------
    async def get_person(self, person_id: int) -> Person:
        return person_of(await self.row_by_id(t.persons, person_id, "person"))

    async def persons_by_code(self) -> dict[str, Person]:
        async with self.engine.connect() as c:
            return {r.code: person_of(r) for r in await c.execute(select(t.persons))}

    async def persons_by_ids(self, ids: Iterable[int]) -> dict[int, Person]:
        out: dict[int, Person] = {}
        wanted = list(set(ids))
        async with self.engine.connect() as c:
            for i in range(0, len(wanted), CHUNK):
                rows = await c.execute(select(t.persons).where(t.persons.c.id.in_(wanted[i:i + CHUNK])))
                out.update((r.id, person_of(r)) for r in rows)
        return out

    async def find_persons(
        self, unit_ids: Iterable[int] | None, query: str = "", limit: int = 50, offset: int = 0
    ) -> tuple[list[Person], int]:
        """Persons in the given units (None: every unit) whose folded name contains the folded query."""
        cond: list[ColumnElement[bool]] = []
        if unit_ids is not None:
            cond.append(t.persons.c.unit_id.in_(list(unit_ids)))
        if query.strip():
            cond.append(t.persons.c.search_key.contains(fold(query), autoescape=True))
        stmt = select(t.persons).where(*cond)
        async with self.engine.connect() as c:
            total = (await c.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
            rows = await c.execute(stmt.order_by(t.persons.c.search_key, t.persons.c.id).limit(limit)
                                   .offset(offset))
            return [person_of(r) for r in rows], total

    async def count_persons(self) -> int:
        async with self.engine.connect() as c:
            return (await c.execute(select(func.count()).select_from(t.persons))).scalar_one()

    # -- roster import -----------------------------------------------------------------------------
    async def import_digest_seen(self, sha256: str) -> bool:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.roster_imports.c.id).where(t.roster_imports.c.sha256 == sha256)
                                   .limit(1))).first()
        return row is not None

    async def apply_roster(
        self,
        new_units: Sequence[Unit],
        changed_units: Sequence[Unit],
        parent_codes: dict[str, str | None],
        new_persons: Sequence[tuple[Person, str]],
        changed_persons: Sequence[tuple[Person, str]],
        record: dict[str, Any],
        progress: Any = None,
    ) -> ImportCounts:
        """Write a validated roster in one transaction: all of it, or (on any error) nothing.

        Units are given without resolved parent ids: `parent_codes` maps each unit code to its parent's
        code, resolved here after the new units exist. Persons come with their unit's code.
        """
        total = len(new_persons) + len(changed_persons)
        try:
            async with self.engine.begin() as c:
                for u in new_units:  # topologically ordered by the caller; few hundred rows
                    await c.execute(insert(t.units).values(unit_values(u) | {"parent_id": None}))
                ids = {r.code: r.id for r in await c.execute(select(t.units.c.code, t.units.c.id))}
                for u in [*new_units, *changed_units]:
                    parent = parent_codes.get(u.code)
                    values = unit_values(u) | {"parent_id": ids[parent] if parent else None}
                    await c.execute(update(t.units).where(t.units.c.code == u.code).values(values))
                done = 0
                for i in range(0, len(new_persons), CHUNK):
                    batch = [person_values(p) | {"unit_id": ids[code]} for p, code in new_persons[i:i + CHUNK]]
                    await c.execute(insert(t.persons), batch)
                    done += len(batch)
                    if progress:
                        progress(done, total)
                by_code = update(t.persons).where(t.persons.c.code == bindparam("match_code"))
                for i in range(0, len(changed_persons), CHUNK):
                    batch = [person_values(p) | {"unit_id": ids[code], "match_code": p.code}
                             for p, code in changed_persons[i:i + CHUNK]]
                    await c.execute(by_code, batch)
                    done += len(batch)
                    if progress:
                        progress(done, total)
                counts = ImportCounts(len(new_units), len(changed_units), len(new_persons), len(changed_persons))
                await c.execute(insert(t.roster_imports).values(
                    record | {"units_added": counts.units_added, "units_changed": counts.units_changed,
                              "persons_added": counts.persons_added, "persons_changed": counts.persons_changed}))
                await c.execute(insert(t.audit_log).values(
                    at=record["imported_at"], actor_user_id=record.get("user_id"),
                    action=AuditAction.IMPORT_ROSTER.value,
                    subject=f"roster:{record['sha256'][:16]}",
                    detail=f"{record['filename']}: units +{counts.units_added} ~{counts.units_changed}, "
                           f"persons +{counts.persons_added} ~{counts.persons_changed}"))
        except IntegrityError:
            raise Conflict("another import changed the same units or persons at the same time; "
                           "import the file again") from None
        if progress:
            progress(total, total)
        return counts

    # -- users -------------------------------------------------------------------------------------
    async def add_user(self, user: User, password_hash: str, now: datetime) -> User:
        values = {"username": user.username, "display_name": user.display_name, "role": user.role.value,
                  "scope_unit_id": user.scope_unit_id, "person_id": user.person_id,
                  "password_hash": password_hash, "active": user.active, "language": user.language,
                  "created_at": now}
        async with self.engine.begin() as c:
            try:
                uid = await insert_id(c, insert(t.users).values(values))
            except IntegrityError:
                raise Conflict(f"username {user.username} is taken") from None
        return User(uid, user.username, user.display_name, user.role, user.scope_unit_id, user.person_id,
                    user.active, user.language)

    async def get_user(self, user_id: int) -> User | None:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.users).where(t.users.c.id == user_id))).first()
        return user_of(row) if row else None

    async def user_with_hash(self, username: str) -> tuple[User, str] | None:
        if "\x00" in username:  # no user has one; PostgreSQL refuses to even compare it
            return None
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.users).where(t.users.c.username == username))).first()
        return (user_of(row), row.password_hash) if row else None

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self.engine.begin() as c:
            await c.execute(update(t.users).where(t.users.c.id == user_id).values(password_hash=password_hash))

    # -- sessions: each cookie carries its account's version; raising it ends every session at once ----
    async def user_for_session(self, user_id: int) -> tuple[User, int] | None:
        """The account and its session version."""
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.users).where(t.users.c.id == user_id))).first()
        return (user_of(row), row.session_version) if row else None

    async def end_sessions(self, user_id: int, **changes: Any) -> int:
        """Raise the account's session version, with `changes` to its row in the same statement (a new
        `password_hash`, `active`, `role` and `scope_unit_id`); the new version."""
        async with self.engine.begin() as c:
            await c.execute(update(t.users).where(t.users.c.id == user_id)
                            .values(session_version=t.users.c.session_version + 1, **changes))
            version = (await c.execute(select(t.users.c.session_version)
                                       .where(t.users.c.id == user_id))).scalar_one_or_none()
        if version is None:
            raise NotFound(f"user {user_id} not found")
        return int(version)

    async def set_active(self, user_id: int, active: bool) -> int:
        """Activate or deactivate an account; every session of it ends."""
        return await self.end_sessions(user_id, active=active)

    async def set_role(self, user_id: int, role: Role, scope_unit_id: int | None) -> int:
        """Give an account another role or scope; every session of it ends."""
        return await self.end_sessions(user_id, role=role.value, scope_unit_id=scope_unit_id)

    async def set_language(self, user_id: int, language: str) -> None:
        async with self.engine.begin() as c:
            await c.execute(update(t.users).where(t.users.c.id == user_id).values(language=language))

    async def count_users(self) -> int:
        async with self.engine.connect() as c:
            return (await c.execute(select(func.count()).select_from(t.users))).scalar_one()

    async def users_by_ids(self, ids: Iterable[int]) -> dict[int, User]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        async with self.engine.connect() as c:
            return {r.id: user_of(r) for r in await c.execute(select(t.users).where(t.users.c.id.in_(wanted)))}

    async def staff_users(self, unit_ids: set[int] | None, limit: int) -> list[User]:
        """Accounts other than participants' whose scope is one of `unit_ids` (None: every one), by username."""
        query = select(t.users).where(t.users.c.role != "participant")
        if unit_ids is not None:
            query = query.where(t.users.c.scope_unit_id.in_(sorted(unit_ids)))
        async with self.engine.connect() as c:
            return [user_of(r) for r in await c.execute(query.order_by(t.users.c.username).limit(limit))]

    async def user_by_name(self, username: str) -> User | None:
        found = await self.user_with_hash(username)
        return found[0] if found else None
