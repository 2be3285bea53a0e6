"""The conference store, its conferences part: conferences, sessions, halls and invitations (with each
hall's expected count kept up to date). Rows go in and out as the pure records of this package."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from conference import tables as t
from conference.conferences import Conference, Session
from conference.errors import Conflict
from conference.halls import Hall, Invitation
from conference.people import Person
from conference.store.rows import CHUNK, StoreBase, conference_of, hall_of, insert_id, person_of, session_of
from conference.text import fold


class ConferenceRecords(StoreBase):
    """Conferences, sessions, halls and invitations: a part of `ConferenceStore`."""

    async def add_conference(self, conf: Conference) -> Conference:
        async with self.engine.begin() as c:
            cid = await insert_id(c, insert(t.conferences).values(
                title=conf.title, topic=conf.topic, mode=conf.mode.value,
                organiser_unit_id=conf.organiser_unit_id, created_at=conf.created_at))
        return Conference(cid, conf.title, conf.topic, conf.mode, conf.organiser_unit_id, conf.created_at)

    async def get_conference(self, conference_id: int) -> Conference:
        return conference_of(await self.row_by_id(t.conferences, conference_id, "conference"))

    async def list_conferences(self) -> list[Conference]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.conferences).order_by(t.conferences.c.created_at.desc()))
            return [conference_of(r) for r in rows]

    async def add_session(self, s: Session) -> Session:
        async with self.engine.begin() as c:
            sid = await insert_id(c, insert(t.sessions).values(
                conference_id=s.conference_id, title=s.title, starts_at=s.starts_at, ends_at=s.ends_at,
                checkin_opens_at=s.checkin_opens_at, checkin_closes_at=s.checkin_closes_at,
                late_after_minutes=s.late_after_minutes))
        return Session(sid, s.conference_id, s.title, s.starts_at, s.ends_at, s.checkin_opens_at,
                       s.checkin_closes_at, s.late_after_minutes)

    async def update_session(self, s: Session) -> Session:
        """Write a session's title, times and late threshold (the session must exist)."""
        async with self.engine.begin() as c:
            await c.execute(update(t.sessions).where(t.sessions.c.id == s.id).values(
                title=s.title, starts_at=s.starts_at, ends_at=s.ends_at, checkin_opens_at=s.checkin_opens_at,
                checkin_closes_at=s.checkin_closes_at, late_after_minutes=s.late_after_minutes))
        return s

    async def get_session(self, session_id: int) -> Session:
        return session_of(await self.row_by_id(t.sessions, session_id, "session"))

    async def sessions_of(self, conference_id: int) -> list[Session]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.sessions).where(t.sessions.c.conference_id == conference_id)
                                   .order_by(t.sessions.c.starts_at))
            return [session_of(r) for r in rows]

    async def assign_presenter(self, session_id: int, user_id: int) -> None:
        """Assign a presenter to a session (idempotent)."""
        async with self.engine.begin() as c:
            found = await c.execute(select(t.session_presenters.c.user_id).where(
                t.session_presenters.c.session_id == session_id, t.session_presenters.c.user_id == user_id))
            if found.first() is None:
                await c.execute(insert(t.session_presenters).values(session_id=session_id, user_id=user_id))

    async def presenters_of(self, session_id: int) -> set[int]:
        """The ids of the users assigned to present the session."""
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.session_presenters.c.user_id)
                                   .where(t.session_presenters.c.session_id == session_id))
            return {r.user_id for r in rows}

    async def add_hall(self, h: Hall) -> Hall:
        async with self.engine.begin() as c:
            try:
                hid = await insert_id(c, insert(t.halls).values(
                    conference_id=h.conference_id, unit_id=h.unit_id, name=h.name, level=h.level,
                    role=h.role.value, channel=h.channel.value, chair=h.chair,
                    technical_contact=h.technical_contact, expected_count=h.expected_count,
                    connection=h.connection.value, last_seen_at=h.last_seen_at,
                    preflight_done=",".join(sorted(h.preflight_done))))
            except IntegrityError:
                raise Conflict("this unit already has a hall in this conference") from None
        return await self.get_hall(hid)

    async def get_hall(self, hall_id: int) -> Hall:
        return hall_of(await self.row_by_id(t.halls, hall_id, "hall"))

    async def halls_of(self, conference_id: int) -> list[Hall]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.halls).where(t.halls.c.conference_id == conference_id)
                                   .order_by(t.halls.c.level, t.halls.c.name))
            return [hall_of(r) for r in rows]

    async def set_hall_seen(self, hall_id: int, at: datetime) -> None:
        """A hall's last heartbeat, kept so that its status survives a restart."""
        async with self.engine.begin() as c:
            await c.execute(update(t.halls).where(t.halls.c.id == hall_id).values(last_seen_at=at, connection="online"))

    async def invite(self, invitations: Sequence[Invitation]) -> int:
        """Record invitations (replacing the hall of anyone already invited) and refresh expected counts."""
        if not invitations:
            return 0
        conf_ids = {i.conference_id for i in invitations}
        async with self.engine.begin() as c:
            for conf_id in conf_ids:
                people = [i.person_id for i in invitations if i.conference_id == conf_id]
                for k in range(0, len(people), CHUNK):
                    await c.execute(t.invitations.delete().where(
                        t.invitations.c.conference_id == conf_id,
                        t.invitations.c.person_id.in_(people[k:k + CHUNK])))
            rows = [{"conference_id": i.conference_id, "person_id": i.person_id, "hall_id": i.hall_id}
                    for i in invitations]
            for k in range(0, len(rows), CHUNK):
                await c.execute(insert(t.invitations), rows[k:k + CHUNK])
            for conf_id in conf_ids:
                await self._record_invitee_units(c, conf_id)
                await self._refresh_expected(c, conf_id)
        return len(invitations)

    async def _record_invitee_units(self, c: AsyncConnection, conference_id: int) -> None:
        """Keep each new invitee's unit with the invitation: the unit tree changes, reports must not."""
        unit_now = select(t.persons.c.unit_id).where(t.persons.c.id == t.invitations.c.person_id).scalar_subquery()
        await c.execute(update(t.invitations).where(t.invitations.c.conference_id == conference_id,
                                                    t.invitations.c.unit_id.is_(None)).values(unit_id=unit_now))

    async def _refresh_expected(self, c: AsyncConnection, conference_id: int) -> None:
        """A hall's expected count: its invitees, less those exempt from party activities."""
        counted = (
            select(func.count()).select_from(t.invitations.join(t.persons))
            .where(t.invitations.c.hall_id == t.halls.c.id, t.persons.c.exempt.is_(False))
            .scalar_subquery()
        )
        await c.execute(update(t.halls).where(t.halls.c.conference_id == conference_id)
                        .values(expected_count=counted))

    async def invitations_of(self, conference_id: int, hall_id: int | None = None) -> list[Invitation]:
        cond: list[ColumnElement[bool]] = [t.invitations.c.conference_id == conference_id]
        if hall_id is not None:
            cond.append(t.invitations.c.hall_id == hall_id)
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.invitations).where(*cond))
            return [Invitation(r.conference_id, r.person_id, r.hall_id) for r in rows]

    @staticmethod
    def _invitees_named(hall_id: int, query: str) -> list[ColumnElement[bool]]:
        cond: list[ColumnElement[bool]] = [t.invitations.c.hall_id == hall_id]
        if query.strip():
            cond.append(t.persons.c.search_key.contains(fold(query), autoescape=True))
        return cond

    async def find_invitees(self, hall_id: int, query: str = "", limit: int = 50) -> list[Person]:
        """Persons invited to a hall whose folded name contains the folded query."""
        stmt = (select(t.persons).select_from(t.invitations.join(t.persons))
                .where(*self._invitees_named(hall_id, query))
                .order_by(t.persons.c.search_key, t.persons.c.id).limit(limit))
        async with self.engine.connect() as c:
            return [person_of(r) for r in await c.execute(stmt)]

    async def count_invitees(self, hall_id: int, query: str = "") -> int:
        """How many persons `find_invitees` would find without a limit."""
        stmt = (select(func.count()).select_from(t.invitations.join(t.persons))
                .where(*self._invitees_named(hall_id, query)))
        async with self.engine.connect() as c:
            return int((await c.execute(stmt)).scalar_one())

    # -- invitees as they stood ---------------------------------------------------------------------
    async def invitees_of(self, conference_id: int) -> list[tuple[Person, int, int]]:
        """Every invitee of a conference: (person, hall id, the unit they were invited from)."""
        stmt = (select(t.persons, t.invitations.c.hall_id, t.invitations.c.unit_id.label("invited_unit_id"))
                .select_from(t.invitations.join(t.persons))
                .where(t.invitations.c.conference_id == conference_id))
        async with self.engine.connect() as c:
            return [(person_of(r), r.hall_id, r.invited_unit_id or r.unit_id) for r in await c.execute(stmt)]
