"""The attendance store, its devices part: kiosk enrolment codes and the devices they admit (SQLAlchemy
Core over an async engine, SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from attendance import tables as t
from attendance.devices import Device, EnrolmentCode
from attendance.errors import EnrolmentRefused, NotFound


def _device(r: Row[Any]) -> Device:
    return Device(r.id, r.hall_id, r.name, r.token_hash, r.enrolled_at, r.revoked_at, r.last_seen_at)


class AttendanceStore:
    """Kiosk devices and their one-time enrolment codes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- devices ------------------------------------------------------------------------------------
    async def add_enrolment_code(self, code: EnrolmentCode) -> None:
        async with self.engine.begin() as c:
            await c.execute(insert(t.enrolment_codes).values(
                code_hash=code.code_hash, hall_id=code.hall_id, created_by_user_id=code.created_by_user_id,
                expires_at=code.expires_at, used_at=None))

    async def enrol_device(self, code_hash: str, name: str, token_hash: str, now: datetime) -> Device:
        """Spend an enrolment code and create the device it admits, atomically: a code admits one device."""
        async with self.engine.begin() as c:
            row = (await c.execute(select(t.enrolment_codes).where(t.enrolment_codes.c.code_hash == code_hash)
                                   .with_for_update())).first()
            if row is None:
                raise EnrolmentRefused("unknown enrolment code")
            EnrolmentCode(row.code_hash, row.hall_id, row.created_by_user_id, row.expires_at, row.used_at).check(now)
            spent = await c.execute(update(t.enrolment_codes).where(
                t.enrolment_codes.c.code_hash == code_hash, t.enrolment_codes.c.used_at.is_(None)).values(used_at=now))
            if spent.rowcount != 1:
                raise EnrolmentRefused("this enrolment code has already been used")
            device_id = (await c.execute(insert(t.devices).values(
                hall_id=row.hall_id, name=name, token_hash=token_hash, enrolled_at=now)
                .returning(t.devices.c.id))).scalar_one()
        return Device(device_id, row.hall_id, name, token_hash, now)

    async def get_device(self, device_id: int) -> Device:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.devices).where(t.devices.c.id == device_id))).first()
        if row is None:
            raise NotFound(f"device {device_id} not found")
        return _device(row)

    async def devices_of(self, hall_id: int) -> list[Device]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.devices).where(t.devices.c.hall_id == hall_id).order_by(t.devices.c.id))
            return [_device(r) for r in rows]

    async def revoke_device(self, device_id: int, now: datetime) -> None:
        async with self.engine.begin() as c:
            await c.execute(update(t.devices).where(t.devices.c.id == device_id, t.devices.c.revoked_at.is_(None))
                            .values(revoked_at=now))

    async def touch_device(self, device_id: int, now: datetime) -> None:
        async with self.engine.begin() as c:
            await c.execute(update(t.devices).where(t.devices.c.id == device_id).values(last_seen_at=now))
