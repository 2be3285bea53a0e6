"""QR cards (thẻ QR): a person's own code, re-issuing a lost card, and who goes on a badge sheet.

It wires the conference service (who may see whom, the audit log) to the credential issuer; the QR
text itself is an opaque signed credential with no personal data in it. A card is scoped to one
conference and its dates (`card_scope`: its first check-in opening to its last closing); an any-conference
card only by an explicit choice (a unit's sheet printed without a conference). Only the roles that hand out
cards (`HAND_OUT_CARDS`) fetch someone else's QR or print sheets, and each fetch is audited. `actor` None is the command
line (the machine's own operator), as in the conference service.
"""

from __future__ import annotations

from dataclasses import dataclass

from attendance.checkins import IssuedCredential
from attendance.issuer import Credentials, Scope, any_conference
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
    conference: Conference  # the one the card is for (its title is on the page, offline too)


@dataclass(frozen=True)
class SheetPlan:
    """A scope-checked list of people to print, before their credentials are fetched."""

    title: str
    subject: str  # "unit:12" or "hall:3": the audit subject and the file name's stem
    people: list[Person]
    unit_names: dict[int, str]
    scope: Scope  # what the printed credentials are good for


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
    async def text(self, actor: User, person_id: int, conference_id: int | None = None) -> str:
        """The QR text of a person's live credential for a conference (by default the coming one that concerns
        them), issued if they have none yet. The person themself, or staff who hand out cards in the person's
        unit, each fetch audited. Raises Forbidden or NotFound."""
        person = await self.conference.store.get_person(person_id)
        if actor.person_id != person.id:
            authorize(actor, Action.HAND_OUT_CARDS, person.unit_id, await self.conference.tree())
        if conference_id is not None:
            await self.conference.conference(actor, conference_id)
        else:
            conference_id = await self._conference_for(person)
        if actor.person_id != person.id:
            await self.conference.store.audit(AuditEntry(
                self.conference.clock(), actor.id, AuditAction.VIEW_CREDENTIAL, f"person:{person.id}",
                f"QR fetched for conference {conference_id}"))
        return await self._text_of(person.id, await card_scope(self.conference, conference_id))

    async def own(self, actor: User) -> Card:
        """The signed-in participant's own card."""
        if actor.person_id is None:
            raise NotFound("this account has no entry on the roster, so no QR code")
        person = await self.conference.person(actor, actor.person_id)
        tree = await self.conference.tree()
        conference = await self.conference.store.get_conference(await self._conference_for(person))
        scope = await card_scope(self.conference, conference.id)
        return Card(person, badge_unit_name(tree, person.unit_id), await self._text_of(person.id, scope), conference)

    async def _conference_for(self, person: Person) -> int:
        """The conference a person's card is for by default: the first one not yet over that concerns their unit."""
        tree, now = await self.conference.tree(), self.conference.clock()
        coming: list[tuple[object, int]] = []
        for conf in await self.conference.store.list_conferences():
            if person.unit_id in tree and tree.within(person.unit_id, conf.organiser_unit_id):
                sessions = await self.conference.store.sessions_of(conf.id)
                if sessions and max(s.checkin_closes_at for s in sessions) > now:
                    coming.append((min(s.checkin_opens_at for s in sessions), conf.id))
        if not coming:
            raise NotFound("no coming conference concerns this person, so no QR card to show")
        return min(coming, key=lambda c: (c[0], c[1]))[1]

    async def reissue(self, actor: User, person_id: int) -> IssuedCredential:
        """A new credential for a lost card; the old one is revoked at once. Organisers in scope only."""
        person = await self.conference.store.get_person(person_id)
        authorize(actor, Action.IMPORT_ROSTER, person.unit_id, await self.conference.tree())
        issued = await self.credentials.issue(person.id, await card_scope(
            self.conference, await self._conference_for(person)))
        for other in (await self.credentials.store.credentials_of([person.id])):  # a lost card: every scope
            if other.revoked_at is None and other.credential_id != issued.credential_id:
                await self.credentials.revoke(other.credential_id)
        await self.conference.store.audit(AuditEntry(
            self.conference.clock(), actor.id, AuditAction.USER_CHANGE, f"person:{person.id}",
            f"QR credential re-issued as {issued.credential_id}; earlier ones revoked"))
        return issued

    async def _text_of(self, person_id: int, scope: Scope) -> str:
        issued = (await self.credentials.current([person_id], scope))[person_id]
        return await self.credentials.text(issued)

    # -- badge sheets -------------------------------------------------------------------------------
    async def choices(self, actor: User, unit_id: int) -> BadgeChoices:
        """The unit (checked: the actor may see its people) and the halls that can be printed from it."""
        tree = await self.conference.tree()
        if unit_id not in tree:
            raise NotFound(f"unit {unit_id} not found")
        authorize(actor, Action.HAND_OUT_CARDS, unit_id, tree)
        inside = tree.subtree_ids(unit_id)
        conferences = await self.conference.conferences(actor)
        halls = {c.id: [h for h in await self.conference.halls(actor, c.id) if h.unit_id in inside]
                 for c in conferences}
        return BadgeChoices(tree.get(unit_id), tree.path(unit_id), tree.children(unit_id), conferences, halls)

    async def unit_plan(self, actor: User | None, unit_id: int, conference_id: int | None = None) -> SheetPlan:
        """Everyone in a unit's subtree, with cards for the conference if given (its title on them), else
        any-conference cards: the explicit choice of printing without a conference."""
        tree = await self.conference.tree()
        if unit_id not in tree:
            raise NotFound(f"unit {unit_id} not found")
        if actor is not None:
            authorize(actor, Action.HAND_OUT_CARDS, unit_id, tree)
        title, scope = "", any_conference(self.conference.clock())
        if conference_id is not None:
            conf = (await self.conference.conference(actor, conference_id) if actor is not None
                    else await self.conference.store.get_conference(conference_id))
            title, scope = conf.title, await card_scope(self.conference, conf.id)
        people, total = await self.conference.store.find_persons(tree.subtree_ids(unit_id), "", MAX_BADGES, 0)
        _check_size(total)
        return await self._plan(actor, tree, title, f"unit:{unit_id}", people, scope)

    async def hall_plan(self, actor: User | None, hall_id: int) -> SheetPlan:
        """Everyone invited to a hall, under its conference's title."""
        if actor is not None:
            hall = await self.conference.hall(actor, hall_id, Action.HAND_OUT_CARDS)
        else:
            hall = await self.conference.store.get_hall(hall_id)
        conf = await self.conference.store.get_conference(hall.conference_id)
        invited = [i.person_id for i in await self.conference.store.invitations_of(conf.id, hall.id)]
        _check_size(len(invited))
        people = list((await self.conference.store.persons_by_ids(invited)).values())
        return await self._plan(actor, await self.conference.tree(), conf.title, f"hall:{hall.id}", people,
                                await card_scope(self.conference, conf.id))

    async def _plan(self, actor: User | None, tree: UnitTree, title: str, subject: str, people: list[Person],
                    scope: Scope) -> SheetPlan:
        order = {u.id: n for n, u in enumerate(tree.walk())}
        people = sorted(people, key=lambda p: (order.get(p.unit_id, len(order)), p.search_key, p.id))
        await self.conference.store.audit(AuditEntry(
            self.conference.clock(), actor.id if actor else None, AuditAction.EXPORT_PEOPLE, subject,
            f"QR badges n={len(people)}"))
        names = {uid: badge_unit_name(tree, uid) for uid in {p.unit_id for p in people}}
        return SheetPlan(title, subject, people, names, scope)

    async def sheet(self, plan: SheetPlan, footer: str) -> Sheet:
        """The printable sheet: each person's live credential (issuing the missing ones in bulk)."""
        live = await self.credentials.current([p.id for p in plan.people], plan.scope)
        badges = [Badge(p.full_name, plan.unit_names.get(p.unit_id, ""), await self.credentials.text(live[p.id]))
                  for p in plan.people]
        return Sheet(plan.title, badges, footer)


async def card_scope(conference: ConferenceService, conference_id: int) -> Scope:
    """The credential scope of a conference: its id, from its first session's check-in opening to its last
    one's closing (whole seconds, as the credential carries them)."""
    sessions = await conference.store.sessions_of(conference_id)
    if not sessions:
        raise Invalid("the conference has no session yet, so no card can be issued for it", field="conference_id")
    return Scope(conference_id, min(s.checkin_opens_at for s in sessions).replace(microsecond=0),
                 max(s.checkin_closes_at for s in sessions).replace(microsecond=0))


def badge_unit_name(tree: UnitTree, unit_id: int) -> str:
    """The person's unit, with the unit above it when that is not the top: "Chi bộ thôn Một, Đảng bộ xã X"."""
    if unit_id not in tree:
        return ""
    path = tree.path(unit_id)
    return ", ".join(u.name for u in reversed(path[-2:])) if len(path) > 2 else path[-1].name


def _check_size(count: int) -> None:
    if count > MAX_BADGES:
        raise Invalid(f"{count} people: at most {MAX_BADGES} badges in one PDF, choose a smaller unit")
