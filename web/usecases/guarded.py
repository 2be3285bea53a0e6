"""Secrets guessed over the network, behind the throttle (web/throttle/): a password at sign-in and at a
password change, a kiosk's one-time enrolment code, an anonymous feedback receipt.

Each is throttled by the client address (`address` rule: failures counted, so the parallel successes of
many people behind one address never lock each other out), and a password also by its account
(`account` rule: counted before the hash is checked, so parallel guesses count too; the right password
forgives them). A key that must wait is refused before any work with `Throttled` (429, Retry-After).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from attendance.devices import Device
from attendance.errors import EnrolmentRefused
from attendance.service import DeviceService
from conference.accounts import User
from conference.errors import NotAuthenticated, NotFound
from conference.service import ConferenceService
from conference.service_feedback import FeedbackView
from web.throttle.backends import Throttle
from web.throttle.rule import Backoff, Throttled


@dataclass(frozen=True)
class Limits:
    account: Backoff  # unproven password attempts per account
    address: Backoff  # failed guesses per client address, of each kind of secret


class Guarded:
    """The throttled use cases: each refuses a key that must wait, then checks the secret, then counts."""

    def __init__(self, throttle: Throttle, limits: Limits, conference: ConferenceService,
                 devices: DeviceService) -> None:
        self.throttle = throttle
        self.limits = limits
        self.conference = conference
        self.devices = devices

    async def sign_in(self, username: str, password: str, address: str | None) -> tuple[User, int]:
        """The account and the session version its cookie carries; NotAuthenticated, or Throttled."""
        account, client = _account(username), f"sign-in:{address or '-'}"
        await self._admit(account, client, "too many failed sign-ins")
        try:
            user = await self.conference.authenticate(username, password)
        except NotAuthenticated:
            await self.throttle.fail(client, self.limits.address)
            raise
        await self.throttle.forgive(account, everything=True)
        return user, await self.conference.session_version(user)

    async def change_password(self, actor: User, current: str, new: str, address: str | None) -> int:
        """The account's own password changed (the current one required, and throttled as a sign-in is);
        every session of the account ends. The new session version."""
        account, client = _account(actor.username), f"sign-in:{address or '-'}"
        await self._admit(account, client, "too many wrong passwords")
        try:
            version = await self.conference.change_password(actor, current, new)
        except NotAuthenticated:
            await self.throttle.fail(client, self.limits.address)
            raise
        await self.throttle.forgive(account, everything=True)
        return version

    async def enrol(self, code: str, name: str, address: str | None) -> tuple[Device, str]:
        """A kiosk spends its one-time code; EnrolmentRefused, or Throttled after too many wrong codes."""
        client = f"enrol:{address or '-'}"
        await self._wait(client, "too many wrong enrolment codes")
        try:
            return await self.devices.enrol(code, name)
        except EnrolmentRefused:
            await self.throttle.fail(client, self.limits.address)
            raise

    async def receipt(self, code: str, address: str | None) -> FeedbackView:
        """Anonymous feedback by its receipt code; NotFound, or Throttled after too many wrong codes."""
        client = f"receipt:{address or '-'}"
        await self._wait(client, "too many wrong receipt codes")
        try:
            return await self.conference.feedback_by_receipt(code)
        except NotFound:
            await self.throttle.fail(client, self.limits.address)
            raise

    async def _admit(self, account: str, client: str, what: str) -> None:
        await self._wait(client, what)
        wait = await self.throttle.admit(account, self.limits.account)
        if wait:
            raise Throttled(wait, f"{what} for this account; try again in {_seconds(wait)} s")

    async def _wait(self, client: str, what: str) -> None:
        wait = await self.throttle.waiting(client)
        if wait:
            raise Throttled(wait, f"{what} from this address; try again in {_seconds(wait)} s")


def _account(username: str) -> str:
    return "account:" + username.strip().lower()[:64]


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))
