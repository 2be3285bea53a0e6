"""Attendance services. Halls, sessions and persons are the conference package's: here they are ids,
and the web layer checks the actor's rights over them before calling in."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from attendance.devices import CODE_ALPHABET, CODE_LENGTH, Device, EnrolmentCode, digest, normalise_code, split_token
from attendance.errors import DeviceRejected, InvalidRecord, NotFound
from attendance.store import AttendanceStore

Clock = Callable[[], datetime]
CODE_LIFETIME = timedelta(hours=24)
DEVICE_NAME_MAX = 100


class DeviceService:
    """Kiosk devices: one-time enrolment codes, tokens bound to one hall, revocation."""

    def __init__(self, store: AttendanceStore, clock: Clock, cache_seconds: float = 5.0) -> None:
        self.store = store
        self.clock = clock
        self.cache_seconds = cache_seconds  # a revocation elsewhere takes effect here within this delay
        self._cache: dict[int, tuple[float, Device]] = {}
        self.revoked: list[Callable[[int], Awaitable[None]]] = []  # told each revoked device id (the live hub)
        # each enrolment code, enrolment and revocation, for the audit log: (user id, device id, subject, detail)
        self.audited: list[Callable[[int | None, int | None, str, str], Awaitable[None]]] = []

    async def _audit(self, user_id: int | None, device_id: int | None, subject: str, detail: str) -> None:
        for record in self.audited:
            await record(user_id, device_id, subject, detail)

    async def issue_enrolment_code(self, hall_id: int, by_user_id: int | None) -> tuple[str, datetime]:
        """A fresh one-time code for enrolling one kiosk at `hall_id`; only its hash is stored."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires = self.clock() + CODE_LIFETIME
        await self.store.add_enrolment_code(EnrolmentCode(digest(code), hall_id, by_user_id, expires))
        await self._audit(by_user_id, None, f"hall:{hall_id}", "kiosk enrolment code issued")
        return code, expires

    async def enrol(self, code: str, name: str) -> tuple[Device, str]:
        """Spend a code; returns the device and its token (shown once, never stored in the clear)."""
        name = " ".join(name.split())[:DEVICE_NAME_MAX]
        if not name:
            raise InvalidRecord("a device needs a name", field="name")
        secret = secrets.token_urlsafe(32)
        device = await self.store.enrol_device(digest(normalise_code(code)), name, digest(secret), self.clock())
        await self._audit(None, device.id, f"hall:{device.hall_id}", f"kiosk enrolled as device {device.id}")
        return device, f"{device.id}.{secret}"

    async def authenticate(self, token: str) -> Device:
        """The live device a bearer token names; DeviceRejected otherwise."""
        device_id, secret = split_token(token)
        cached = self._cache.get(device_id)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            device = cached[1]
        else:
            try:
                device = await self.store.get_device(device_id)
            except NotFound:
                raise DeviceRejected("unknown device token") from None
            self._cache[device_id] = (time.monotonic(), device)
        device.verify(secret)
        return device

    async def devices(self, hall_id: int) -> list[Device]:
        return await self.store.devices_of(hall_id)

    async def device(self, device_id: int) -> Device:
        return await self.store.get_device(device_id)

    async def revoke(self, device_id: int, by_user_id: int | None = None) -> None:
        await self.store.revoke_device(device_id, self.clock())
        await self._audit(by_user_id, device_id, f"device:{device_id}", "kiosk revoked")
        self.forget(device_id)
        for listener in self.revoked:
            await listener(device_id)

    def forget(self, device_id: int) -> None:
        """The device is read from the store again next time (it was revoked, maybe by another process)."""
        self._cache.pop(device_id, None)
