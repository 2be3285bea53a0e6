"""Badge PDFs made in the background, one job per request, kept in memory for 30 minutes.

A job belongs to the user who started it: anyone else asking for it gets "not found". The PDF is laid
out in a worker thread (asyncio.to_thread) so the event loop keeps serving; the thread reports its
progress by bumping the job's `done` counter, which the page polls. One process only: a job lives in
the process that started it (with several workers, route a user's requests to one of them).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from conference.errors import Conflict, NotFound
from web.render.badges import FontMissing, Progress

log = logging.getLogger(__name__)

KEEP_SECONDS = 30 * 60
RUNNING_PER_USER = 2
KEPT_PER_USER = 10  # finished PDFs held for one user; the oldest goes first

Work = Callable[[Progress], Awaitable[bytes]]


class JobState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class BadgeJob:
    id: str
    owner_user_id: int
    filename: str
    total: int
    started: float
    done: int = 0
    state: JobState = JobState.RUNNING
    error: str = ""
    pdf: bytes | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def progress(self, done: int, total: int) -> None:
        """Called from the worker thread: plain attribute writes, read by the event loop."""
        self.done, self.total = done, total

    def status(self) -> dict[str, object]:
        return {"id": self.id, "state": self.state.value, "done": self.done, "total": self.total,
                "error": self.error, "filename": self.filename}


class BadgeJobs:
    def __init__(self, keep_seconds: float = KEEP_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.keep_seconds = keep_seconds
        self.clock = clock
        self._jobs: dict[str, BadgeJob] = {}

    def start(self, owner_user_id: int, filename: str, total: int, work: Work) -> BadgeJob:
        """Run `work` in a task; call from the event loop. Raises Conflict when the user has too many running."""
        self._sweep()
        running = [j for j in self._jobs.values() if j.owner_user_id == owner_user_id and j.state is JobState.RUNNING]
        if len(running) >= RUNNING_PER_USER:
            raise Conflict(f"{len(running)} badge sheets are still being made: wait for one to finish")
        finished = sorted((j for j in self._jobs.values() if j.owner_user_id == owner_user_id
                           and j.state is not JobState.RUNNING), key=lambda j: j.started)
        for old in finished[:max(0, len(finished) + len(running) + 1 - KEPT_PER_USER)]:
            del self._jobs[old.id]
        job = BadgeJob(str(uuid.uuid4()), owner_user_id, filename, total, self.clock())
        self._jobs[job.id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job, work))
        return job

    def get(self, job_id: str, owner_user_id: int) -> BadgeJob:
        """The user's own job, or NotFound (also for someone else's job, and after 30 minutes)."""
        self._sweep()
        job = self._jobs.get(job_id)
        if job is None or job.owner_user_id != owner_user_id:
            raise NotFound("no such badge job (they are kept for 30 minutes)")
        return job

    def _sweep(self) -> None:
        cutoff = self.clock() - self.keep_seconds
        for job_id in [j.id for j in self._jobs.values() if j.started < cutoff and j.state is not JobState.RUNNING]:
            del self._jobs[job_id]

    async def _run(self, job: BadgeJob, work: Work) -> None:
        try:
            job.pdf = await work(job.progress)
            job.state = JobState.DONE
        except FontMissing as e:
            job.error, job.state = e.message, JobState.FAILED
        except Exception:
            log.exception("badge job %s failed", job.id)
            job.error, job.state = "the PDF could not be made (see the server log)", JobState.FAILED

