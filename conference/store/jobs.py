"""Background jobs in the store (the `jobs` table), so that every hub sees the jobs any hub started.

A job row holds its owner, state, progress, error and the SHA-256 of its result file (kept on shared
storage, conference/blobs.py); the hub making it writes its progress and a heartbeat (`updated_at`).
Nothing here decides a rule: web/usecases/badge_jobs.py does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from conference.store.rows import StoreBase
from conference.tables import jobs


@dataclass(frozen=True)
class JobRow:
    id: str
    kind: str
    owner_user_id: int
    filename: str
    state: str
    done: int
    total: int
    error: str
    sha256: str | None
    started_at: datetime
    updated_at: datetime


def _job(r: Row[Any]) -> JobRow:
    return JobRow(r.id, r.kind, r.owner_user_id, r.filename, r.state, r.done, r.total, r.error, r.sha256,
                  r.started_at, r.updated_at)


class JobStore(StoreBase):
    async def add_job(self, job: JobRow) -> None:
        async with self.engine.begin() as c:
            await c.execute(insert(jobs).values(
                id=job.id, kind=job.kind, owner_user_id=job.owner_user_id, filename=job.filename, state=job.state,
                done=job.done, total=job.total, error=job.error, sha256=job.sha256, started_at=job.started_at,
                updated_at=job.updated_at))

    async def job(self, job_id: str) -> JobRow | None:
        async with self.engine.connect() as c:
            row = (await c.execute(select(jobs).where(jobs.c.id == job_id))).first()
        return None if row is None else _job(row)

    async def jobs_of(self, kind: str, owner_user_id: int) -> list[JobRow]:
        """The owner's jobs of this kind, oldest first."""
        async with self.engine.connect() as c:
            rows = (await c.execute(select(jobs).where(jobs.c.kind == kind, jobs.c.owner_user_id == owner_user_id)
                                    .order_by(jobs.c.started_at, jobs.c.id))).all()
        return [_job(r) for r in rows]

    async def jobs_before(self, kind: str, started_before: datetime) -> list[JobRow]:
        async with self.engine.connect() as c:
            rows = (await c.execute(select(jobs).where(jobs.c.kind == kind,
                                                       jobs.c.started_at < started_before))).all()
        return [_job(r) for r in rows]

    async def update_job(self, job_id: str, **values: Any) -> None:
        """Set progress, state, error or result (sha256) and the heartbeat `updated_at`."""
        async with self.engine.begin() as c:
            await c.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    async def delete_jobs(self, job_ids: Iterable[str]) -> set[str]:
        """Delete the jobs; returns the result files no remaining job refers to."""
        ids = list(job_ids)
        if not ids:
            return set()
        async with self.engine.begin() as c:
            files = {r.sha256 for r in (await c.execute(select(jobs.c.sha256).where(jobs.c.id.in_(ids)))).all()
                     if r.sha256}
            await c.execute(delete(jobs).where(jobs.c.id.in_(ids)))
            kept = {r.sha256 for r in (await c.execute(select(jobs.c.sha256).where(jobs.c.sha256.in_(files)))).all()}
        return files - kept
