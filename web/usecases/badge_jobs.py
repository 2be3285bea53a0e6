"""Badge PDFs made in the background, one job per request, kept for 30 minutes, seen from every hub.

A job's state is a row of the store (conference/store/jobs.py) and its PDF a file on the storage all
hubs share (conference/blobs.py under the data directory), so a job started through one hub is polled
and downloaded through whichever hub nginx picks. A job belongs to the user who started it: anyone else
asking for it gets "not found". The PDF is laid out in a worker thread (asyncio.to_thread) so the event
loop keeps serving; the thread bumps a counter, and the hub making the job writes it to the row about
once a second with a heartbeat. A running job whose hub stopped beating (killed, restarted) reads as
failed after STALE_SECONDS, so it holds up neither its page nor its owner's next job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from conference.blobs import BlobStore
from conference.errors import Conflict, NotFound
from conference.store.jobs import JobRow, JobStore
from web.render.badges import FontMissing, Progress

log = logging.getLogger(__name__)

KIND = "badges"
KEEP_SECONDS = 30 * 60
RUNNING_PER_USER = 2
KEPT_PER_USER = 10  # finished PDFs held for one user; the oldest goes first
HEARTBEAT_SECONDS = 1.0  # how often the making hub writes progress to the store
STALE_SECONDS = 30.0  # a running job not heard of for this long has lost its hub
STOPPED = "the server making it stopped: start it again"

Work = Callable[[Progress], Awaitable[bytes]]


class JobState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class BadgeJob:
    """A job as its owner sees it, read from the store."""

    id: str
    owner_user_id: int
    filename: str
    state: JobState
    done: int
    total: int
    error: str
    sha256: str | None

    def status(self) -> dict[str, object]:
        return {"id": self.id, "state": self.state.value, "done": self.done, "total": self.total,
                "error": self.error, "filename": self.filename}


class _Counter:
    """Progress written by the worker thread (plain attribute writes), read by the event loop."""

    def __init__(self, total: int) -> None:
        self.done, self.total = 0, total

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total


class BadgeJobs:
    def __init__(self, store: JobStore, files: BlobStore, clock: Callable[[], datetime],
                 keep_seconds: float = KEEP_SECONDS, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        self.store = store
        self.files = files
        self.clock = clock
        self.keep_seconds = keep_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _view(self, row: JobRow) -> BadgeJob:
        state, error = JobState(row.state), row.error
        if state is JobState.RUNNING and row.updated_at < self.clock() - timedelta(seconds=STALE_SECONDS):
            state, error = JobState.FAILED, STOPPED
        return BadgeJob(row.id, row.owner_user_id, row.filename, state, row.done, row.total, error, row.sha256)

    async def start(self, owner_user_id: int, filename: str, total: int, work: Work) -> BadgeJob:
        """Run `work` in a task of this hub; raises Conflict when the user has too many running."""
        await self._sweep()
        mine = [self._view(r) for r in await self.store.jobs_of(KIND, owner_user_id)]
        running = [j for j in mine if j.state is JobState.RUNNING]
        if len(running) >= RUNNING_PER_USER:
            raise Conflict(f"{len(running)} badge sheets are still being made: wait for one to finish")
        finished = [j for j in mine if j.state is not JobState.RUNNING]
        await self._forget([j.id for j in finished[:max(0, len(mine) + 1 - KEPT_PER_USER)]])
        now = self.clock()
        row = JobRow(str(uuid.uuid4()), KIND, owner_user_id, filename, JobState.RUNNING.value, 0, total, "", None,
                     now, now)
        await self.store.add_job(row)
        self._tasks[row.id] = asyncio.get_running_loop().create_task(self._run(row.id, total, work))
        return self._view(row)

    async def get(self, job_id: str, owner_user_id: int) -> BadgeJob:
        """The user's own job, or NotFound (also for someone else's job, and after 30 minutes)."""
        await self._sweep()
        row = await self.store.job(job_id)
        if row is None or row.owner_user_id != owner_user_id or row.kind != KIND:
            raise NotFound("no such badge job (they are kept for 30 minutes)")
        return self._view(row)

    async def pdf(self, job: BadgeJob) -> bytes:
        """The finished job's PDF from the shared storage; Conflict while it is not ready."""
        if job.state is not JobState.DONE or job.sha256 is None:
            raise Conflict(f"the badge sheet is not ready ({job.state.value})")
        return await asyncio.to_thread(lambda: self.files.existing(job.sha256 or "").read_bytes())

    async def wait(self, job_id: str) -> None:
        """Until this hub's task for the job ends (tests, shutdown); at once for another hub's job."""
        task = self._tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def close(self) -> None:
        """At shutdown: stop this hub's jobs and mark them failed, so no page waits for them."""
        for job_id, task in list(self._tasks.items()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            with contextlib.suppress(Exception):
                await self.store.update_job(job_id, state=JobState.FAILED.value, error=STOPPED,
                                            updated_at=self.clock())

    async def _sweep(self) -> None:
        old = await self.store.jobs_before(KIND, self.clock() - timedelta(seconds=self.keep_seconds))
        await self._forget([j.id for j in old if self._view(j).state is not JobState.RUNNING])

    async def _forget(self, job_ids: list[str]) -> None:
        for sha256 in await self.store.delete_jobs(job_ids):
            await self.files.delete_async(sha256)

    async def _run(self, job_id: str, total: int, work: Work) -> None:
        counter = _Counter(total)
        beating = asyncio.get_running_loop().create_task(self._beat(job_id, counter))
        try:
            pdf = await work(counter)
            sha256 = await self.files.put_async(pdf)
            values: dict[str, object] = {"state": JobState.DONE.value, "sha256": sha256}
        except FontMissing as e:
            values = {"state": JobState.FAILED.value, "error": e.message[:300]}
        except Exception:
            log.exception("badge job %s failed", job_id)
            values = {"state": JobState.FAILED.value, "error": "the PDF could not be made (see the server log)"}
        finally:
            beating.cancel()
        try:
            await self.store.update_job(job_id, done=counter.done, total=counter.total, updated_at=self.clock(),
                                        **values)
        finally:  # only once its outcome is written: `wait` on a job whose task is gone finds it finished
            self._tasks.pop(job_id, None)

    async def _beat(self, job_id: str, counter: _Counter) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self.store.update_job(job_id, done=counter.done, total=counter.total, updated_at=self.clock())
            except Exception:  # the store away for a moment: the next beat tries again
                log.warning("badge job %s: progress not written", job_id)
