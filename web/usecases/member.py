"""A member's own page ("Hội nghị của tôi"): each conference that concerns them, the hall they are expected
at, and for each session whether (and when) they are checked in.

A member reads only their own records: the person is the account's own (`User.person_id`), never one
named in the request, so there is nothing of anyone else to ask for.
"""

from __future__ import annotations

from dataclasses import dataclass

from attendance.checkins import CheckIn
from attendance.store import LedgerStore
from conference.accounts import User
from conference.conferences import Conference, Session
from conference.service import ConferenceService
from web.usecases.facts import ConferenceFacts


@dataclass(frozen=True)
class MySession:
    session: Session
    checkin: CheckIn | None  # None: not checked in yet


@dataclass(frozen=True)
class MyConference:
    conference: Conference
    hall_name: str | None  # None: the member is not on this conference's list of any hall
    sessions: list[MySession]


async def member_home(conference: ConferenceService, facts: ConferenceFacts, ledger: LedgerStore,
                      actor: User) -> list[MyConference]:
    """The conferences that concern the actor (Forbidden for an inactive account), with their expected hall
    and their own status in each session (an account without a roster person has neither)."""
    out = []
    for conf, sessions in await conference.my_conferences(actor):
        person = actor.person_id
        hall_id = await facts.expected_hall(conf.id, person) if person is not None else None
        hall_name = await facts.hall_name(hall_id) if hall_id is not None else None
        mine = [MySession(s, await ledger.checkin(s.id, person) if person is not None else None) for s in sessions]
        out.append(MyConference(conf, hall_name, mine))
    return out
