"""A claimed batch's hold on its jobs: locks renewed only while the batch makes progress.

A heartbeat that renews on a timer alone keeps a job locked for as long as its worker lives,
even when the worker is stuck (an await that a database outage left hanging): the job then
stays `running` for ever and no other worker may take it. Here every stage of a job says
how long its next step may take (`expect`); the heartbeat renews the locks only until that
deadline, so a stuck job's locks run out within `lock_seconds` of it and the job is claimed
again, and the runner's watchdog (app/jobs/runner.py) starts the stuck batch over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg

from app.db import jobs as job_sql

log = logging.getLogger(__name__)

# How long a task we cancel may take to end before we stop waiting for it: a task that
# swallows its cancellation (an await deep in a driver) must not hang the one cancelling it.
CANCEL_WAIT_SECONDS = 5.0


class Lease:
    """The jobs of one claimed batch, their attempts (the fencing token) and a deadline."""

    def __init__(self, jobs: list[asyncpg.Record], within: float) -> None:
        self.jobs = jobs
        self.deadline = time.monotonic() + within
        self.stopped = False
        self.stage = "claimed"
        self.renewals = 0

    @property
    def ids(self) -> list[int]:
        return [job["id"] for job in self.jobs]

    @property
    def attempts(self) -> list[int]:
        return [job["attempts"] for job in self.jobs]

    def expect(self, seconds: float, stage: str | None = None) -> None:
        """Progress: the batch's next step should end within `seconds`."""
        self.deadline = time.monotonic() + seconds
        if stage is not None:
            self.stage = stage

    def overdue(self) -> float:
        """Seconds past the deadline (0 while the batch is on time)."""
        return max(0.0, time.monotonic() - self.deadline)

    def drop(self, job_id: int) -> None:
        """Stop holding one job (it ended: done, retried or failed)."""
        self.jobs = [job for job in self.jobs if job["id"] != job_id]


async def heartbeat(pool: asyncpg.Pool, lease: Lease, lock_seconds: float) -> None:
    """Extend the lease's locks every lock_seconds / 3 while the batch keeps its deadlines.

    It ends when the lease is stopped, when no lock is held any more, or when the batch is
    overdue: then the locks expire and any worker may claim the jobs again.
    """
    every = lock_seconds / 3
    while not lease.stopped:
        await asyncio.sleep(every)
        if lease.stopped or not lease.jobs:
            return
        if late := lease.overdue():
            log.warning(
                "jobs %s made no progress for %.0f s past their deadline (stage %s); their "
                "locks are no longer renewed and expire within %.0f s",
                lease.ids,
                late,
                lease.stage,
                lock_seconds,
            )
            return
        try:
            async with asyncio.timeout(every), pool.acquire() as conn:
                renewed = await job_sql.extend_locks(conn, lease.ids, lease.attempts, lock_seconds)
        except Exception as exc:  # an outage: the next beat tries again, if still on time
            log.warning(
                "could not extend the locks of jobs %s (%s); will try again", lease.ids, exc
            )
            continue
        if lease.stopped:  # stopped while renewing: the renewal is harmless (fenced)
            return
        lease.renewals += 1
        log.debug(
            "renewed %d of %d lock(s) of jobs %s (stage %s, renewal %d)",
            renewed,
            len(lease.jobs),
            lease.ids,
            lease.stage,
            lease.renewals,
        )
        if not renewed:
            return


async def cancel(task: asyncio.Task[Any], what: str) -> bool:
    """Cancel a task and wait (boundedly) for it to end; False if it did not."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=CANCEL_WAIT_SECONDS)
    if not done:
        log.error(
            "%s did not stop within %.0f s of being cancelled; left behind",
            what,
            CANCEL_WAIT_SECONDS,
        )
        return False
    with contextlib.suppress(BaseException):
        task.result()
    return True
