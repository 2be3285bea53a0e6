"""Who may watch, publish, take the floor and speak for a hall in a session's broadcast.

Which roles may is the permission table's (conference/accounts.py: PUBLISH_MEDIA, PRESENT_SESSION,
TAKE_OVER_BROADCAST, CONTROL_FLOOR, WATCH_ANY_SESSION, SPEAK_FOR_HALL, LIST_HALL_SCREENS); this module
applies it with the unit scope, the presenters assigned to a session (only they and the conference's
organisers in scope publish; another user's live source is replaced only by those organisers, audited), the
invitations (whoever may not watch any session watches only the conferences they are invited to, and
that watching is their online attendance) and the one rule that a hall takes part in a session
(`ConferenceFacts.hall_in_session`). The signalling, the media API and the pages all ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from attendance.devices import Device
from conference.accounts import Action, User, authorize, may
from conference.conferences import Conference, Session
from conference.errors import Forbidden, Invalid
from conference.halls import Channel as HallChannel
from conference.halls import Hall
from conference.service import ConferenceService
from web.media.errors import MediaRefused
from web.usecases.facts import ConferenceFacts


@dataclass(frozen=True)
class Audience:
    """Who asks, about which session: the session's conference and, for a hall screen, its hall."""

    session_id: int
    conference_id: int
    organiser_unit_id: int
    user: User | None
    hall: Hall | None  # the device's hall


@dataclass(frozen=True)
class SessionPage:
    """What a session's page (watch, present) may show its user."""

    conference: Conference
    session: Session
    publish: bool  # may broadcast as the presenter
    control: bool  # may order the hands and give the floor
    viewer_topic: bool  # watches as an invitee: the page reports watch time (online attendance)


def may_publish(user: User | None) -> bool:
    """Whether the user's role may broadcast some session at all (which ones: `MediaAccess.may_present`)."""
    return user is not None and (may(user, Action.PUBLISH_MEDIA) or may(user, Action.PRESENT_SESSION))


def watches_as_invitee(user: User) -> bool:
    """Whether the user watches only the conferences they are invited to, their watch time counting as
    online attendance (participants); the others watch any session whose conference concerns them."""
    return not may(user, Action.WATCH_ANY_SESSION)


class MediaAccess:
    """The media plane's permission checks, over the conference service and its cached facts."""

    def __init__(self, conference: ConferenceService, facts: ConferenceFacts) -> None:
        self.conference = conference
        self.facts = facts

    async def may_watch(self, user: User, conference_id: int) -> bool:
        """Whether the user may watch the sessions of a conference that concerns them."""
        if not watches_as_invitee(user):
            return True
        return user.person_id is not None and user.person_id in await self.facts.invited(conference_id)

    async def _watched(self, user: User, session_id: int) -> tuple[Conference, Session]:
        conf, session = await self.conference.session(user, session_id)
        if not await self.may_watch(user, conf.id):
            raise Forbidden("not invited to this conference")
        return conf, session

    async def audience(self, user: User | None, device: Device | None, session_id: int) -> Audience:
        """Check that `user` or `device` may watch the session; Forbidden or NotFound otherwise.

        Watchers: the participants invited to the session's conference, staff and presenters whose scope
        the conference concerns, the administrator, and kiosks/hall screens of the conference's halls.
        """
        if device is not None:
            if not await self.facts.hall_in_session(device.hall_id, session_id):
                raise Forbidden("this device's hall is not in the session's conference")
            rules = await self.facts.session_rules(session_id)
            store = self.conference.store  # a device has no user for the conference service's checks
            hall = await store.get_hall(device.hall_id)
            conf = await store.get_conference(rules.conference_id)
            return Audience(session_id, conf.id, conf.organiser_unit_id, None, hall)
        if user is None:
            raise Forbidden("sign in first")
        conf, session = await self._watched(user, session_id)
        return Audience(session.id, conf.id, conf.organiser_unit_id, user, None)

    async def may_control(self, user: User | None, audience: Audience) -> bool:
        """The organisers of the conference (and the administrator) order the queue and give the floor."""
        return user is not None and await self._organises(user, Action.CONTROL_FLOOR, audience)

    async def _organises(self, user: User, action: Action, audience: Audience) -> bool:
        try:
            authorize(user, action, audience.organiser_unit_id, await self.conference.tree())
        except Forbidden:
            return False
        return True

    async def may_present(self, user: User | None, audience: Audience) -> bool:
        """The conference's organisers in scope, and the presenters assigned to the session, broadcast it."""
        if user is None:
            return False
        if await self._organises(user, Action.PUBLISH_MEDIA, audience):
            return True
        return may(user, Action.PRESENT_SESSION) and await self.conference.presents(user, audience.session_id)

    async def require_publish(self, user: User | None, audience: Audience, live_owner: int | None) -> bool:
        """Check that `user` may put their camera on air in the session, where `live_owner` (a user id, or None)
        holds the presenter's source now; returns whether this takes over another user's source (the caller
        audits it once it is done: `record_takeover`). Forbidden otherwise."""
        if user is None or not await self.may_present(user, audience):
            raise Forbidden("only the session's presenters and the conference's organisers may broadcast it")
        if live_owner is None or live_owner == user.id:
            return False
        if not await self._organises(user, Action.TAKE_OVER_BROADCAST, audience):
            raise Forbidden("another user is on air: only the conference's organisers may take over")
        return True

    async def record_takeover(self, user: User, audience: Audience, previous: int | None) -> None:
        await self.conference.record_takeover(user, audience.session_id, previous)

    async def speaking_hall(self, audience: Audience, hall_id: int | None) -> Hall:
        """The hall a hall screen speaks for: a kiosk's own hall, or one the user may speak for, of the
        session's conference; only two-way halls speak."""
        if audience.hall is not None:
            if hall_id is not None and hall_id != audience.hall.id:
                raise Forbidden("a device speaks only for its own hall")
            hall = audience.hall
        else:
            if hall_id is None or audience.user is None:
                raise Invalid("name the hall", field="hall")
            hall = await self.conference.hall(audience.user, hall_id, Action.SPEAK_FOR_HALL)
            if not await self.facts.hall_in_session(hall.id, audience.session_id):
                raise Forbidden("this hall is not in the session's conference")
        if hall.channel is not HallChannel.TWO_WAY:
            raise MediaRefused("not_two_way", "only two-way halls can ask to speak")
        return hall

    # -- the pages ----------------------------------------------------------------------------------
    async def session_page(self, user: User, session_id: int, present: bool = False) -> SessionPage:
        """The watch page (or, with `present`, the presenter's page, Forbidden to those who may not publish)."""
        conf, session = await self._watched(user, session_id)
        audience = Audience(session.id, conf.id, conf.organiser_unit_id, user, None)
        publish = await self.may_present(user, audience)
        if present and not publish:
            raise Forbidden("only the session's presenters and the conference's organisers may broadcast it")
        return SessionPage(conf, session, publish, await self.may_control(user, audience),
                           watches_as_invitee(user))

    async def screen(self, user: User, hall_id: int, session_id: int) -> tuple[Hall, Conference, Session]:
        """A hall's screen for a signed-in user: one who may speak for the hall, of the session's conference."""
        hall = await self.conference.hall(user, hall_id, Action.SPEAK_FOR_HALL)
        conf, session = await self.conference.session(user, session_id)
        if not await self.facts.hall_in_session(hall.id, session.id):
            raise Forbidden("this hall is not in the session's conference")
        return hall, conf, session

    async def reachable(self, user: User) -> list[dict[str, Any]]:
        """The sessions the user may watch, each with whether they may present it and the screens of the
        halls they may run for it."""
        items: list[dict[str, Any]] = []
        for conf, sessions in await self.conference.my_conferences(user):
            if not await self.may_watch(user, conf.id):
                continue
            halls = await self.conference.halls(user, conf.id) if may(user, Action.LIST_HALL_SCREENS) else []
            for s in sessions:
                publish = may_publish(user) and await self.may_present(
                    user, Audience(s.id, conf.id, conf.organiser_unit_id, user, None))
                items.append({"conference": conf, "session": s, "halls": halls, "publish": publish})
        return items
