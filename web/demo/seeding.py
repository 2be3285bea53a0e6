"""Writing the demo province into a database: `seed()` puts the generated units, members, conference,
sessions, halls, invitations and demo accounts into an empty, migrated database through the conference
store and service (only the demo accounts get an Argon2 password hash, the slow part of an account);
`is_seeded()` says whether that was done completely; `keep_open()` moves a reused demo's sessions to
start from now again, so a demo started on any day can check people in at once."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from conference.accounts import Role
from conference.conferences import new_conference
from conference.errors import Conflict
from conference.halls import Invitation, new_hall
from conference.passwords import Passwords
from conference.service import ConferenceService
from conference.store import ConferenceStore
from web.demo.accounts import DemoAccounts, account_plan
from web.demo.province import ADMIN_USERNAME, PROVINCE_CODE, demo_sessions, province


async def is_seeded(engine: AsyncEngine) -> bool:
    """Whether the demo has been written completely (its administrator account is written last)."""
    store = ConferenceStore(engine)
    if await store.user_by_name(ADMIN_USERNAME) is None:
        return False
    return any(u.code == PROVINCE_CODE for u in await store.all_units())


async def _is_empty(store: ConferenceStore) -> bool:
    return (not await store.all_units() and not await store.count_persons() and not await store.count_users()
            and not await store.list_conferences())


async def seed(engine: AsyncEngine, passwords: Passwords, now: datetime, members: int = 70_000,
               seed: int = 2026) -> DemoAccounts:
    """Write the demo province, its conference and the demo accounts into an empty, migrated database."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    store = ConferenceStore(engine)
    if not await _is_empty(store):
        raise Conflict("the demo data goes only into an empty database")
    demo = province(seed, members)
    digest = hashlib.sha256(f"hoinghi-demo:{seed}:{members}".encode()).hexdigest()
    await store.apply_roster(demo.units, [], demo.parent_codes, demo.persons, [],
                             {"sha256": digest, "filename": "demo (dữ liệu mẫu)", "imported_at": now,
                              "user_id": None})
    unit_ids = {u.code: u.id for u in await store.all_units()}
    conf = await store.add_conference(new_conference(demo.conference_title, demo.conference_topic,
                                                     demo.conference_mode, unit_ids[demo.organiser_code], now))
    for session in demo_sessions(now, conf.id):
        await store.add_session(session)
    hall_ids: dict[str, int] = {}
    for h in demo.halls:
        stored = await store.add_hall(new_hall(conf.id, unit_ids[h.unit_code], h.name, h.level, h.role,
                                               h.channel, h.chair, h.technical_contact))
        hall_ids[h.unit_code] = stored.id
    person_ids = {code: person.id for code, person in (await store.persons_by_code()).items()}
    await store.invite([Invitation(conf.id, person_ids[code], hall_ids[hall])
                        for code, hall in demo.hall_of.items()])

    service = ConferenceService(store, passwords, lambda: now)
    plan = account_plan(demo)
    for a in sorted(plan, key=lambda a: a.role is Role.ADMIN):  # the administrator last: is_seeded's mark
        await service.create_user(None, a.username, a.display_name, a.role, a.password,
                                  unit_ids[a.scope_code] if a.scope_code else None,
                                  person_ids[a.person_code] if a.person_code else None)
    return DemoAccounts(conf.id, plan)


async def keep_open(engine: AsyncEngine, now: datetime) -> bool:
    """Move the demo conference's sessions, all by the same shift, so the first is again as `demo_sessions(now)`
    builds it (check-in open now), unless one of them already has check-in open. Whether they moved."""
    store = ConferenceStore(engine)
    conferences = await store.list_conferences()
    if not conferences:
        return False
    sessions = await store.sessions_of(conferences[-1].id)  # the demo's: the first conference made
    if not sessions or any(s.checkin_open(now) for s in sessions):
        return False
    shift = demo_sessions(now)[0].starts_at - sessions[0].starts_at
    for s in sessions:
        await store.update_session(replace(
            s, starts_at=s.starts_at + shift, ends_at=s.ends_at + shift, checkin_opens_at=s.checkin_opens_at + shift,
            checkin_closes_at=s.checkin_closes_at + shift))
    return True
