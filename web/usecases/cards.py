"""QR cards (thẻ QR): a person's own code, re-issuing a lost card, and who goes on a badge sheet.

It wires the conference service (who may see whom, the audit log) to the credential issuer; the QR
text itself is an opaque signed credential with no personal data in it. `actor` None is the command
line (the machine's own operator), as in the conference service.
"""

from __future__ import annotations

from dataclasses import dataclass

from attendance.checkins import IssuedCredential
from attendance.issuer import Credentials
from conference.accounts import Action, User, authorize
from conference.audit import AuditAction, AuditEntry
from conference.conferences import Conference
from conference.errors import Invalid, NotFound
from conference.halls import Hall
from conference.people import Person
from conference.service import ConferenceService
from conference.units import Unit, UnitTree
from web.render.badges import Badge, Sheet

MAX_BADGES = 20_000  # one PDF; a larger subtree is printed a part at a time


@dataclass(frozen=True)
class Card:
    """What the participant's "Mã QR của tôi" page shows."""

    person: Person
    unit_name: str
    text: str


@dataclass(frozen=True)
class SheetPlan:
    """A scope-checked list of people to print, before their credentials are fetched."""

    title: str
    subject: str  # "unit:12" or "hall:3": the audit subject and the file name's stem
    people: list[Person]
    unit_names: dict[int, str]


@dataclass(frozen=True)
class BadgeChoices:
    """What the "In thẻ QR" page offers for one unit: its subtree, or a hall hosted in it."""

    unit: Unit
    path: list[Unit]
    children: list[Unit]
    conferences: list[Conference]
    halls: dict[int, list[Hall]]  # conference id -> halls hosted in the unit's subtree


class Cards:
    def __init__(self, conference: ConferenceService, credentials: Credentials) -> None:
        self.conference = conference
        self.credentials = credentials

    # -- one person ---------------------------------------------------------------------------------
    async def text(self, actor: User, person_id: int) -> str:
        """The QR text of a person's live credential (issued if they have none yet).

        The person themself, or staff who may see people in the person's unit; staff views are logged.
        Raises Forbidden or NotFound.
        """
        person = await self.conference.person(actor, person_id)
        return await self._text_of(person.id)

    async def own(self, actor: User) -> Card:
        """The signed-in participant's own card."""
        if actor.person_id is None:
            raise NotFound("this account has no entry on the roster, so no QR code")
        person = await self.conference.person(actor, actor.person_id)
        tree = await self.conference.tree()
        return Card(person, badge_unit_name(tree, person.unit_id), await self._text_of(person.id))

    async def reissue(self, actor: User, person_id: int) -> IssuedCredential:
        """A new credential for a lost card; the old one is revoked at once. Organisers in scope only."""
        person = await self.conference.store.get_person(person_id)
        authorize(actor, Action.IMPORT_ROSTER, person.unit_id, await self.conference.tree())
        issued = await self.credentials.issue(person.id)
        await self.conference.store.audit(AuditEntry(
            self.conference.clock(), actor.id, AuditAction.USER_CHANGE, f"person:{person.id}",
            f"QR credential re-issued as {issued.credential_id}; earlier ones revoked"))
        return issued

    async def _text_of(self, person_id: int) -> str:
        issued = (await self.credentials.current([person_id]))[person_id]
        return await self.credentials.text(issued)

    # -- badge sheets -------------------------------------------------------------------------------
    async def choices(self, actor: User, unit_id: int) -> BadgeChoices:
        """The unit (checked: the actor may see its people) and the halls that can be printed from it."""
        tree = await self.conference.tree()
        if unit_id not in tree:
            raise NotFound(f"unit {unit_id} not found")
        authorize(actor, Action.VIEW_PEOPLE, unit_id, tree)
        inside = tree.subtree_ids(unit_id)
        conferences = await self.conference.conferences(actor)
        halls = {c.id: [h for h in await self.conference.halls(actor, c.id) if h.unit_id in inside]
                 for c in conferences}
        return BadgeChoices(tree.get(unit_id), tree.path(unit_id), tree.children(unit_id), conferences, halls)

    async def unit_plan(self, actor: User | None, unit_id: int, conference_id: int | None = None) -> SheetPlan:
        """Everyone in a unit's subtree; the conference, if given, only lends its title."""
        tree = await self.conference.tree()
        if unit_id not in tree:
            raise NotFound(f"unit {unit_id} not found")
        if actor is not None:
            authorize(actor, Action.VIEW_PEOPLE, unit_id, tree)
        title = ""
        if conference_id is not None:
            conf = (await self.conference.conference(actor, conference_id) if actor is not None
                    else await self.conference.store.get_conference(conference_id))
            title = conf.title
        people, total = await self.conference.store.find_persons(tree.subtree_ids(unit_id), "", MAX_BADGES, 0)
        _check_size(total)
        return await self._plan(actor, tree, title, f"unit:{unit_id}", people)

    async def hall_plan(self, actor: User | None, hall_id: int) -> SheetPlan:
        """Everyone invited to a hall, under its conference's title."""
        if actor is not None:
            hall = await self.conference.hall(actor, hall_id, Action.VIEW_PEOPLE)
        else:
            hall = await self.conference.store.get_hall(hall_id)
        conf = await self.conference.store.get_conference(hall.conference_id)
        invited = [i.person_id for i in await self.conference.store.invitations_of(conf.id, hall.id)]
        _check_size(len(invited))
        people = list((await self.conference.store.persons_by_ids(invited)).values())
        return await self._plan(actor, await self.conference.tree(), conf.title, f"hall:{hall.id}", people)

    async def _plan(self, actor: User | None, tree: UnitTree, title: str, subject: str, people: list[Person]
                    ) -> SheetPlan:
        order = {u.id: n for n, u in enumerate(tree.walk())}
        people = sorted(people, key=lambda p: (order.get(p.unit_id, len(order)), p.search_key, p.id))
        await self.conference.store.audit(AuditEntry(
            self.conference.clock(), actor.id if actor else None, AuditAction.EXPORT_PEOPLE, subject,
            f"QR badges n={len(people)}"))
        names = {uid: badge_unit_name(tree, uid) for uid in {p.unit_id for p in people}}
        return SheetPlan(title, subject, people, names)

    async def sheet(self, plan: SheetPlan, footer: str) -> Sheet:
        """The printable sheet: each person's live credential (issuing the missing ones in bulk)."""
        live = await self.credentials.current([p.id for p in plan.people])
        badges = [Badge(p.full_name, plan.unit_names.get(p.unit_id, ""), await self.credentials.text(live[p.id]))
                  for p in plan.people]
        return Sheet(plan.title, badges, footer)


def badge_unit_name(tree: UnitTree, unit_id: int) -> str:
    """The person's unit, with the unit above it when that is not the top: "Chi bộ thôn Một, Đảng bộ xã X"."""
    if unit_id not in tree:
        return ""
    path = tree.path(unit_id)
    return ", ".join(u.name for u in reversed(path[-2:])) if len(path) > 2 else path[-1].name


def _check_size(count: int) -> None:
    if count > MAX_BADGES:
        raise Invalid(f"{count} people: at most {MAX_BADGES} badges in one PDF, choose a smaller unit")
