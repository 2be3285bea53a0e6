"""Who a live connection is: at hello, and again while it acts.

- A browser trades its session cookie for a ticket (`POST /api/live/ticket`): signed with the secret
  key, valid TICKET_SECONDS, naming the user, the cookie's session version and a random id. A ticket
  opens one connection, once, on every hub (`Bus.claim`: Redis when configured), and only while the
  account's session version is the one it names: a ticket minted before a sign-out, a deactivation, a
  role or a password change is refused after it (`ConferenceService.session_user`).
- A kiosk or hall screen says hello with its device token.
- Before a connection acts (subscribe, ping, camera frames, media messages) its user or device is read
  again when it was last read more than RECHECK_SECONDS ago; the hub also reads every connection's
  every RECHECK_SECONDS (users in one query). A deactivated user or a revoked device is closed with
  4001, and so is an account whose role, scope or person changed (it comes back with a new ticket and
  is authorised anew). A revocation also closes the device's sockets at once on every hub (`Hub.end`,
  a bus message).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from attendance.devices import Device
from attendance.errors import DeviceRejected
from attendance.service import DeviceService
from conference.accounts import User
from conference.errors import NotAuthenticated
from conference.service import ConferenceService
from web.live.bus import Bus
from web.live.connections import Conn
from web.live.protocol import Close, Hello

TICKET_SECONDS = 60
RECHECK_SECONDS = 5.0
GONE = "this account is no longer active"
CHANGED = "this account's role or scope changed: sign in again"


def _same_rights(a: User, b: User) -> bool:
    return (a.role, a.scope_unit_id, a.person_id, a.active) == (b.role, b.scope_unit_id, b.person_id, b.active)


class Identity:
    """Tickets, hellos, and the re-reading of a connection's user or device."""

    def __init__(self, secret_key: str, conference: ConferenceService, devices: DeviceService, bus: Bus) -> None:
        self._tickets = URLSafeTimedSerializer(secret_key, salt="hoinghi-live-ticket")
        self.conference = conference
        self.devices = devices
        self.bus = bus

    def ticket(self, user: User, version: int) -> str:
        """A ticket naming `user` and the session version of the cookie it was traded for, good for one
        connection within TICKET_SECONDS while that version is the account's."""
        return self._tickets.dumps({"uid": user.id, "sv": version, "n": secrets.token_urlsafe(12)})

    async def hello(self, hello: Hello) -> tuple[User | None, Device | None]:
        """The user the hello's ticket names, or the kiosk its device token names (NotAuthenticated or
        DeviceRejected otherwise)."""
        if hello.ticket is None:
            assert hello.device_token is not None
            return None, await self.devices.authenticate(hello.device_token)
        try:
            data = self._tickets.loads(hello.ticket, max_age=TICKET_SECONDS)
        except (BadSignature, SignatureExpired):
            raise NotAuthenticated("bad or expired ticket") from None
        if not isinstance(data, dict) or not isinstance(data.get("uid"), int) or not isinstance(data.get("n"), str) \
                or not isinstance(data.get("sv"), int):
            raise NotAuthenticated("bad ticket")
        if not await self.bus.claim(f"ticket:{data['n']}", TICKET_SECONDS):
            raise NotAuthenticated("this ticket was used already: get a new one")
        user = await self.conference.session_user(data["uid"], data["sv"])
        if user is None:
            raise NotAuthenticated("this ticket's session ended (signed out, or the account changed): sign in again")
        return user, None

    async def current(self, conn: Conn, now: float) -> None:
        """Before `conn` acts: its user or device, read again when last read over RECHECK_SECONDS before
        `now` (monotonic); NotAuthenticated or DeviceRejected when it may no longer act."""
        if now - conn.checked_at < RECHECK_SECONDS:
            return
        conn.checked_at = now
        if conn.device is not None:
            assert conn.token is not None
            conn.device = await self.devices.authenticate(conn.token)
        elif conn.user is not None:
            user = await self.conference.user(conn.user.id)
            if user is None:
                raise NotAuthenticated(GONE)
            if not _same_rights(user, conn.user):
                raise NotAuthenticated(CHANGED)

    async def recheck(self, conns: Iterable[Conn], now: float) -> None:
        """Every connection's user (one query) and device read again; those that may no longer act are
        closed with 4001."""
        open_conns = [c for c in conns if not c.closing]
        users = await self.conference.store.users_by_ids({c.user.id for c in open_conns if c.user is not None})
        for conn in open_conns:
            if conn.user is not None:
                found = users.get(conn.user.id)
                if found is None or not found.active or not _same_rights(found, conn.user):
                    conn.close_soon(Close.BAD_AUTH, GONE if found is None or not found.active else CHANGED)
                    continue
            elif conn.device is not None and conn.token is not None:
                try:
                    conn.device = await self.devices.authenticate(conn.token)
                except DeviceRejected as e:
                    conn.close_soon(Close.BAD_AUTH, e.message)
                    continue
            conn.checked_at = now
