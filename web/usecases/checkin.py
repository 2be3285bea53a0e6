"""The check-in use cases, one home for every entry point (the JSON API, the face API, the kiosk camera
socket, the hall clerk's page): plain typed values in, records out, no Starlette.

- Who records for which hall (`place`): a kiosk only for its own hall, a signed-in operator for a hall in
  their scope with `CHECK_IN_MANUALLY`; either way the hall must take part in the session
  (`ConferenceFacts.require_hall_in_session`).
- A scan (`scan`): QR text or a manual pick, never both; online and headcount attendance are not recorded
  this way; a face score is kept only for a face scan. An offline kiosk's queue (`prepare` each item,
  then `upload`). An accepted face identification is checked in exactly as a face scan (`face_scan`,
  `faces`).
- A person picked by hand (a manual check-in, an absence, an undo; `listed`): an unknown id is refused before
  anything is judged; then only people invited to that hall (or, with the uninvited policy, people invited
  nowhere, in the recorder's scope); an absence or an undo never touches another hall's record.
- Undo, absence and headcount, each checked like a scan. Every manual change of attendance (a check-in by
  hand, an absence, an undo) is audited here, whichever entry point asked.
- The verdict as a kiosk shows it (`Shown`: the person's card and a one-line message); a card only for an
  accepted or repeat answer, so a refusal never names anyone.
- What a kiosk keeps to go on checking people in while offline (`bundle`).

The hot path (`scan` of a kiosk) costs no query besides the ledger's: the facts are cached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from attendance.checkins import CheckIn, Method, Outcome
from attendance.devices import Device
from attendance.face_match import Decision, FaceDecision
from attendance.face_service import Identification
from attendance.headcounts import Headcount
from attendance.issuer import Credentials
from attendance.ledger import Ledger
from attendance.rules import Scan, SessionRules, Verdict
from conference.accounts import Action, User, in_scope
from conference.errors import Forbidden, Invalid
from conference.service import ConferenceService
from web.i18n import verdict_message
from web.usecases.cards import card_scope
from web.usecases.facts import ConferenceFacts, PersonCard

NONCE_STEM = 40  # of a request's nonce, kept in the nonce of each face it checks in
FACE_DECISION_SECONDS = 120  # a likely match, sealed, waits this long for the operator's tap


@dataclass(frozen=True)
class Actor:
    """Who records: an enrolled kiosk, or a signed-in hall operator."""

    device: Device | None
    user: User | None

    @property
    def device_id(self) -> int | None:
        return self.device.id if self.device else None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None


@dataclass(frozen=True)
class ScanRequest:
    """One scan as an entry point decoded it: a credential (the QR text) or a person picked by hand."""

    session_id: int
    hall_id: int | None = None  # a kiosk's is its own; an operator names it
    credential: str | None = None
    person_id: int | None = None
    method: Method | None = None  # None: QR for a credential, manual for a pick
    face_score: float | None = None
    nonce: str | None = None
    kiosk_time: datetime | None = None
    face_decision: str | None = None  # a kiosk's face check-in: the face service's sealed decision (`FaceDecisions`)
    decided: bool = False  # set only by `face_scan`: the face service's own decision, in this process


@dataclass(frozen=True)
class Prepared:
    """A scan checked against who records it, ready for the ledger."""

    scan: Scan
    credential: str | None
    person_id: int | None


@dataclass(frozen=True)
class Shown:
    """A verdict as a kiosk shows it: the person's card (name and unit) and a one-line message."""

    verdict: Verdict
    card: PersonCard | None
    message: str


@dataclass(frozen=True)
class RosterEntry:
    credential_id: str
    person_id: int
    full_name: str
    unit_name: str


@dataclass(frozen=True)
class KioskBundle:
    """What a kiosk keeps to check people in while offline: keys, revocations, its hall's roster."""

    session: SessionRules
    hall_id: int
    generated_at: datetime
    public_keys: dict[str, str]  # key id -> public key, hex
    revoked: list[str]
    roster: list[RosterEntry]


def face_scan(session_id: int, person_id: int, distance: float, nonce: str | None = None,
              kiosk_time: datetime | None = None) -> ScanRequest:
    """An accepted face identification as the scan that checks it in: method face, its distance as the score
    (to 4 places, as the face API shows it and a kiosk sends it back after a confirmation)."""
    return ScanRequest(session_id, person_id=person_id, method=Method.FACE, face_score=round(float(distance), 4),
                       nonce=nonce, kiosk_time=kiosk_time, decided=True)


class FaceDecisions:
    """The face service's decisions, sealed for the kiosk that saw them: a likely match the operator confirms comes
    back as this token (`face_decision`), so method face and a face score are never taken as a kiosk sends them."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="hoinghi/face-decision")

    def seal(self, who: Actor, session_id: int, decision: FaceDecision) -> str | None:
        """A token for an accepted or likely match of one person (None for the others)."""
        if decision.decision is Decision.REJECT or decision.person_id is None or decision.distance is None:
            return None
        return self._serializer.dumps([who.device_id, who.user_id, session_id, decision.person_id,
                                       round(float(decision.distance), 4)])

    def open(self, token: str, who: Actor, session_id: int, person_id: int | None, offline: bool) -> float:
        """The distance the face service found, from a token sealed for this kiosk, session and person (within
        `FACE_DECISION_SECONDS`, but any age for an offline kiosk's queue); `Invalid` on face_decision otherwise."""
        try:
            sealed = self._serializer.loads(token, max_age=None if offline else FACE_DECISION_SECONDS)
            device_id, user_id, session, person, distance = sealed
        except SignatureExpired:
            raise Invalid("this face decision has expired: look at the camera again", field="face_decision") from None
        except (BadSignature, ValueError, TypeError):
            raise Invalid("not a face decision of this server", field="face_decision") from None
        if [device_id, user_id, session, person] != [who.device_id, who.user_id, session_id, person_id]:
            raise Invalid("this face decision is for another kiosk, session or person", field="face_decision")
        return float(distance)


async def kiosk_hall(facts: ConferenceFacts, device: Device, session_id: int, hall_id: int | None = None
                     ) -> tuple[int, SessionRules]:
    """A kiosk's own hall (`WrongHall` if it names another), taking part in the session; and the session's rules."""
    if hall_id is not None:
        device.require_hall(hall_id)
    return device.hall_id, await facts.require_hall_in_session(device.hall_id, session_id)


class CheckIns:
    def __init__(self, conference: ConferenceService, facts: ConferenceFacts, ledger: Ledger,
                 credentials: Credentials, zone: tzinfo, clock: Callable[[], datetime], secret: str) -> None:
        self.face_decisions = FaceDecisions(secret)
        self.conference = conference
        self.facts = facts
        self.ledger = ledger
        self.credentials = credentials
        self.zone = zone
        self.clock = clock

    # -- who records for which hall ----------------------------------------------------------------
    async def place(self, who: Actor, session_id: int, hall_id: int | None) -> tuple[int, SessionRules]:
        """The hall `who` records for in the session, checked, and the session's rules.

        A kiosk records only for its own hall (`WrongHall` otherwise), an operator for a hall they may
        check people in at (`Forbidden`); the hall must take part in the session (`Invalid` on hall_id)."""
        if who.device is not None:
            return await kiosk_hall(self.facts, who.device, session_id, hall_id)
        if hall_id is None:
            raise Invalid("hall_id is required", field="hall_id")
        assert who.user is not None
        await self.conference.hall(who.user, hall_id, Action.CHECK_IN_MANUALLY)
        return hall_id, await self.facts.require_hall_in_session(hall_id, session_id)

    async def listed(self, who: Actor, rules: SessionRules, hall_id: int, person_id: int) -> None:
        """A person picked by hand at `hall_id`: `NotFound` for an unknown id (before anything is judged), then
        `Forbidden` unless invited to this hall or, when uninvited people are admitted, invited nowhere in the
        conference and within the recorder's scope (an operator's, a kiosk's hall's unit)."""
        person = await self.conference.store.get_person(person_id)
        at = (await self.facts.invited(rules.conference_id)).get(person_id)
        if at == hall_id:
            return
        if at is None and rules.admit_uninvited:
            tree = await self.conference.tree()
            if who.user is not None and in_scope(who.user, person.unit_id, tree):
                return
            hall_unit = (await self.conference.store.get_hall(hall_id)).unit_id
            if who.user is None and tree.within(person.unit_id, hall_unit):
                return
        raise Forbidden("this person is not on this hall's list")

    async def _own_record(self, session_id: int, hall_id: int, person_id: int) -> None:
        """An absence or an undo at `hall_id` never touches a record another hall made."""
        existing = await self.ledger.current(session_id, person_id)
        if existing is not None and existing.hall_id is not None and existing.hall_id != hall_id:
            raise Forbidden("this person's record belongs to another hall")

    # -- scans -------------------------------------------------------------------------------------
    async def prepare(self, who: Actor, asked: ScanRequest, offline: bool = False) -> Prepared:
        """The scan `who` asked for, checked: the hall, a credential or a person (not both), the method."""
        hall_id, rules = await self.place(who, asked.session_id, asked.hall_id)
        if (asked.credential is None) == (asked.person_id is None):
            raise Invalid("give either credential (the QR text) or person_id", field="credential")
        method = asked.method or (Method.QR if asked.credential is not None else Method.MANUAL)
        if asked.person_id is not None and method is Method.MANUAL and not offline:
            await self.listed(who, rules, hall_id, asked.person_id)
        if method in (Method.ONLINE, Method.HEADCOUNT):
            raise Invalid("online and headcount attendance are not recorded through this call", field="method")
        if asked.face_score is not None and not asked.decided:
            raise Invalid("face_score is the face service's own, never sent: send its face_decision",
                          field="face_score")
        score = asked.face_score if method is Method.FACE else None
        if method is Method.FACE and not asked.decided:
            if asked.face_decision is None:
                raise Invalid("a face check-in comes from the face service: send its face_decision", field="method")
            score = self.face_decisions.open(asked.face_decision, who, asked.session_id, asked.person_id, offline)
        scan = Scan(asked.session_id, hall_id, method, self.clock(), asked.kiosk_time, who.device_id, who.user_id,
                    asked.nonce, offline, score)
        return Prepared(scan, asked.credential, asked.person_id)

    async def scan(self, who: Actor, asked: ScanRequest, lang: str) -> Shown:
        """Check one person in (QR text or a pick by hand); answered once the ledger has committed it."""
        p = await self.prepare(who, asked)
        verdict = await self.ledger.scan(p.scan, p.credential, p.person_id)
        if p.scan.method is Method.MANUAL and p.person_id is not None:  # by hand: audited, whoever asked
            await self._audit(who, p.person_id, f"manual check-in session {asked.session_id}: {verdict.outcome.value}")
        return await self.shown(verdict, lang)

    async def upload(self, items: list[Prepared], lang: str) -> list[Shown]:
        """An offline kiosk's queue (each item from `prepare(..., offline=True)`): every scan recorded,
        flagged if it broke a rule, idempotent by nonce."""
        verdicts = await self.ledger.upload([(p.scan, p.credential, p.person_id) for p in items])
        invited = {}
        for p in items:  # a pick by hand of someone not on the hall's list is kept for review, but names no one
            if p.person_id is not None and p.scan.method is Method.MANUAL and p.scan.session_id not in invited:
                rules = await self.facts.session_rules(p.scan.session_id)
                invited[p.scan.session_id] = await self.facts.invited(rules.conference_id)
        return [await self.shown(v, lang, p.person_id is None or p.scan.method is not Method.MANUAL
                                 or invited[p.scan.session_id].get(p.person_id) == p.scan.hall_id)
                for p, v in zip(items, verdicts, strict=True)]

    async def faces(self, who: Actor, session_id: int, found: Identification, nonce: str | None,
                    kiosk_time: datetime | None, lang: str) -> list[Shown | None]:
        """Every accepted face of an identification checked in (`face_scan`): a verdict per face of `found`, None
        for those not accepted. Each face's nonce is the request's (its first 40 characters) and the person,
        so a repeated request is harmless."""
        out: list[Shown | None] = []
        for result in found.faces:
            d = result.decision
            shown = None
            if d.decision is Decision.ACCEPT and d.person_id is not None and d.distance is not None:
                face_nonce = f"{nonce[:NONCE_STEM]}:face:{d.person_id}" if nonce else None
                shown = await self.scan(who, face_scan(session_id, d.person_id, d.distance, face_nonce, kiosk_time),
                                        lang)
            out.append(shown)
        return out

    async def shown(self, verdict: Verdict, lang: str, listed: bool = True) -> Shown:
        """A verdict as a kiosk shows it: the person's name and unit (only for an accepted or repeat answer about
        someone the kiosk may name: `listed`), and a one-line message."""
        card = None
        if verdict.person_id is not None and verdict.outcome is not Outcome.REFUSED and listed:
            card = (await self.facts.cards([verdict.person_id])).get(verdict.person_id)
        params: dict[str, str] = {"name": card.full_name if card else ""}
        checkin = verdict.checkin
        if verdict.outcome is Outcome.REPEAT and checkin is not None:
            params["time"] = checkin.server_time.astimezone(self.zone).strftime("%H:%M")
            params["hall"] = await self.facts.hall_name(checkin.hall_id) if checkin.hall_id else ""
        reason = verdict.reason.value if verdict.reason else None
        return Shown(verdict, card, verdict_message(lang, verdict.outcome.value, reason, **params))

    # -- manual changes (audited) ------------------------------------------------------------------
    async def undo(self, who: Actor, session_id: int, hall_id: int | None, person_id: int) -> CheckIn:
        """Take back a mistaken check-in (only its own kiosk or operator, within minutes); audited."""
        hall, _ = await self.place(who, session_id, hall_id)
        await self._own_record(session_id, hall, person_id)  # what this hall recorded, listed or not
        undone = await self.ledger.undo(session_id, person_id, who.device_id, who.user_id)
        await self._audit(who, person_id, f"undo session {session_id}")
        return undone

    async def absence(self, user: User, session_id: int, hall_id: int, person_id: int, reason: str) -> CheckIn:
        """Vắng có lý do (with a reason) or vắng không lý do (an empty one), set by a hall operator; audited."""
        hall, rules = await self.place(Actor(None, user), session_id, hall_id)
        await self.listed(Actor(None, user), rules, hall, person_id)
        await self._own_record(session_id, hall, person_id)
        checkin = await self.ledger.mark_absent(session_id, person_id, hall, reason, user.id)
        await self._audit(Actor(None, user), checkin.person_id, f"absent session {session_id}")
        return checkin

    async def _audit(self, who: Actor, person_id: int, detail: str) -> None:
        await self.conference.record_manual_attendance(who.user, person_id, detail, who.device_id)

    # -- headcounts, the hall's list, the offline bundle -------------------------------------------
    async def headcount(self, user: User, session_id: int, hall_id: int, expected: int, present: int,
                        absent_excused: int = 0, absent_unexcused: int = 0) -> Headcount:
        """A hall that cannot check people in one by one reports its numbers."""
        hall, _ = await self.place(Actor(None, user), session_id, hall_id)
        report = Headcount(session_id, hall, expected, present, absent_excused, absent_unexcused, user.id,
                           self.clock())
        await self.ledger.headcount(report)
        return report

    async def hall_checkins(self, user: User, session_id: int, hall_id: int) -> list[CheckIn]:
        """A hall's check-ins for a session (staff with attendance rights over the hall)."""
        hall = await self.conference.hall(user, hall_id, Action.VIEW_ATTENDANCE)
        return [c for c in await self.ledger.checkins(session_id) if c.hall_id == hall.id]

    async def bundle(self, device: Device, session_id: int) -> KioskBundle:
        """What a kiosk keeps to go on checking people in while offline: keys, revocations, its hall's roster."""
        hall_id, rules = await kiosk_hall(self.facts, device, session_id)
        invited = [p for p, h in (await self.facts.invited(rules.conference_id)).items() if h == hall_id]
        await self.credentials.current(invited, await card_scope(self.conference, rules.conference_id))
        creds = await self.credentials.usable(invited, rules.conference_id)  # this conference's cards, standing ones
        cards = await self.facts.cards(invited)
        keys = await self.credentials.bundle()
        return KioskBundle(rules, hall_id, keys.generated_at, {str(k): v.hex() for k, v in keys.public_keys.items()},
                           keys.revoked, [RosterEntry(c.credential_id, c.person_id, cards[c.person_id].full_name,
                                                      cards[c.person_id].unit_name)
                                          for c in creds if c.person_id in cards])
