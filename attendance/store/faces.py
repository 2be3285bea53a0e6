"""The attendance store, its faces part: consents, the sealed face templates written under them, and the
recorded face calibrations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from attendance import tables as t
from attendance.face_calibration import CalibrationRecord, Summary
from attendance.faces import Consent, ConsentChannel, ConsentPurpose, FaceTemplate


def _consent(r: Row[Any]) -> Consent:
    return Consent(r.id, r.person_id, ConsentPurpose(r.purpose), r.text_version, r.given_at,
                   ConsentChannel(r.channel), r.withdrawn_at)


def _template(r: Row[Any]) -> FaceTemplate:
    return FaceTemplate(r.person_id, r.consent_id, r.ciphertext, r.created_at)


def _summary(r: Row[Any], kind: str) -> Summary | None:
    count = getattr(r, f"{kind}_count")
    return Summary(count, getattr(r, f"{kind}_min"), getattr(r, f"{kind}_median"), getattr(r, f"{kind}_max")) \
        if count else None


def _calibration(r: Row[Any]) -> CalibrationRecord:
    return CalibrationRecord(r.recorded_by, r.recorded_at, r.source, r.people, r.photos, _summary(r, "genuine"),
                             _summary(r, "impostor"), r.threshold, r.ceiling, r.population, r.risk, r.stranger_risk,
                             r.identification_safe, r.id)


def _summary_values(kind: str, s: Summary | None) -> dict[str, Any]:
    return {f"{kind}_count": s.count if s else 0, f"{kind}_min": s.low if s else None,
            f"{kind}_median": s.median if s else None, f"{kind}_max": s.high if s else None}


class FaceStore:
    """Consents and face templates. A template is only ever written next to its active consent, and
    withdrawing the consent deletes the template in the same transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    async def add_consent(self, person_id: int, purpose: ConsentPurpose, text_version: str, channel: ConsentChannel,
                          now: datetime) -> Consent:
        """Record a consent; an active one under the same text version is kept instead of a second row."""
        async with self.engine.begin() as c:
            return await self._consent(c, person_id, purpose, text_version, channel, now)

    async def _consent(self, c: Any, person_id: int, purpose: ConsentPurpose, text_version: str,
                       channel: ConsentChannel, now: datetime) -> Consent:
        row = (await c.execute(select(t.consents).where(
            t.consents.c.person_id == person_id, t.consents.c.purpose == purpose.value,
            t.consents.c.text_version == text_version, t.consents.c.withdrawn_at.is_(None))
            .order_by(t.consents.c.id.desc()).limit(1).with_for_update())).first()
        if row is not None:
            return _consent(row)
        consent = Consent(0, person_id, purpose, text_version, now, channel)
        new_id = (await c.execute(insert(t.consents).values(
            person_id=person_id, purpose=purpose.value, text_version=text_version, given_at=now,
            channel=channel.value, withdrawn_at=None).returning(t.consents.c.id))).scalar_one()
        return replace(consent, id=new_id)

    async def enrol(self, person_id: int, purpose: ConsentPurpose, text_version: str, channel: ConsentChannel,
                    ciphertext: bytes, now: datetime) -> tuple[Consent, FaceTemplate]:
        """Record (or keep) the consent and store the sealed template under it, replacing an earlier
        template, in one transaction."""
        async with self.engine.begin() as c:
            consent = await self._consent(c, person_id, purpose, text_version, channel, now)
            template = FaceTemplate(person_id, consent.id, ciphertext, now)
            values = {"person_id": person_id, "consent_id": consent.id, "ciphertext": ciphertext, "created_at": now}
            await c.execute(self._insert(t.face_templates).values(values).on_conflict_do_update(
                index_elements=["person_id"], set_=values))
        return consent, template

    async def withdraw(self, person_id: int, purpose: ConsentPurpose, now: datetime) -> tuple[list[Consent], bool]:
        """Withdraw every active consent of the person for `purpose` and delete their template, atomically.
        Returns the consents withdrawn and whether a template was deleted."""
        async with self.engine.begin() as c:
            rows = (await c.execute(select(t.consents).where(
                t.consents.c.person_id == person_id, t.consents.c.purpose == purpose.value,
                t.consents.c.withdrawn_at.is_(None)).with_for_update())).all()
            await c.execute(update(t.consents).where(t.consents.c.id.in_([r.id for r in rows]))
                            .values(withdrawn_at=now))
            deleted = await c.execute(delete(t.face_templates).where(t.face_templates.c.person_id == person_id))
        return [replace(_consent(r), withdrawn_at=now) for r in rows], bool(deleted.rowcount)

    async def consents_of(self, person_id: int) -> list[Consent]:
        """Newest first."""
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.consents).where(t.consents.c.person_id == person_id)
                                   .order_by(t.consents.c.id.desc()))
            return [_consent(r) for r in rows]

    async def template_of(self, person_id: int) -> FaceTemplate | None:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.face_templates).where(
                t.face_templates.c.person_id == person_id))).first()
        return _template(row) if row else None

    async def templates_of(self, person_ids: list[int]) -> list[FaceTemplate]:
        out: list[FaceTemplate] = []
        async with self.engine.connect() as c:
            for i in range(0, len(person_ids), 2000):
                rows = await c.execute(select(t.face_templates).where(
                    t.face_templates.c.person_id.in_(person_ids[i:i + 2000])))
                out.extend(_template(r) for r in rows)
        return out

    async def enrolled(self, person_ids: list[int]) -> set[int]:
        """Which of these persons have a template now."""
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.face_templates.c.person_id).where(
                t.face_templates.c.person_id.in_(person_ids)))
            return {r.person_id for r in rows}

    async def reseal_templates(self, reseal: Callable[[bytes], bytes | None], batch: int = 1000) -> int:
        """Seal every template again where `reseal` gives a new blob (None: keep), a batch per transaction; a
        template replaced or deleted meanwhile is left as it is now. How many changed."""
        changed, after = 0, -1
        while True:
            async with self.engine.begin() as c:
                rows = (await c.execute(select(t.face_templates.c.person_id, t.face_templates.c.ciphertext)
                                        .where(t.face_templates.c.person_id > after)
                                        .order_by(t.face_templates.c.person_id).limit(batch))).all()
                for row in rows:
                    new = reseal(row.ciphertext)
                    if new is not None:
                        done = await c.execute(update(t.face_templates).where(
                            t.face_templates.c.person_id == row.person_id,
                            t.face_templates.c.ciphertext == row.ciphertext).values(ciphertext=new))
                        changed += done.rowcount
            if len(rows) < batch:
                return changed
            after = rows[-1].person_id

    async def purge_templates(self, created_before: datetime) -> list[int]:
        """Delete the templates older than the retention period; returns whose."""
        async with self.engine.begin() as c:
            rows = await c.execute(delete(t.face_templates).where(t.face_templates.c.created_at < created_before)
                                   .returning(t.face_templates.c.person_id))
            return sorted(r.person_id for r in rows)

    async def record_calibration(self, record: CalibrationRecord) -> CalibrationRecord:
        """Keep a calibration run (never changed or deleted afterwards); returns it with its id."""
        async with self.engine.begin() as c:
            new_id = (await c.execute(insert(t.face_calibrations).values(
                recorded_by=record.recorded_by, recorded_at=record.recorded_at, source=record.source,
                people=record.people, photos=record.photos, **_summary_values("genuine", record.genuine),
                **_summary_values("impostor", record.impostor), threshold=record.threshold, ceiling=record.ceiling,
                population=record.population, risk=record.risk, stranger_risk=record.stranger_risk,
                identification_safe=record.identification_safe).returning(t.face_calibrations.c.id))).scalar_one()
        return replace(record, id=new_id)

    async def latest_calibration(self) -> CalibrationRecord | None:
        """The calibration recorded last, or None."""
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.face_calibrations).order_by(t.face_calibrations.c.id.desc())
                                   .limit(1))).first()
        return _calibration(row) if row else None
