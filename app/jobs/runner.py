"""The job runner: claims jobs of every registered kind and runs them, riding out outages.

Each lane of each kind (app/jobs/__init__.py) has its own loop: claim (FOR UPDATE SKIP
LOCKED, the attempt counted), run the batch as a task, claim again while a slot is free,
sleep until NOTIFY jobs or the poll interval when there is nothing to do. Every batch holds a
Lease (app/jobs/lease.py) whose locks are renewed only while the batch keeps the deadlines
its stages set; a batch past its deadline is cancelled by the watchdog and its jobs queued
again, so a job whose worker cannot make progress is never left `running`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

import asyncpg

from app.db import jobs as job_sql
from app.errors import AppError
from app.jobs import Kind, Lane
from app.jobs.lease import Lease, cancel, heartbeat

log = logging.getLogger(__name__)

# Waits between attempts to start over after a failure (a database outage, mostly).
RETRY_MIN_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
OUTAGE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,  # the server is shutting down or starting
)


# How long one step of a job (a page, a group of chunks embedded, a write) may take before its
# worker is deemed stuck: generous, since a false alarm costs the job an attempt, and a CPU
# shared by many processes makes an embedding call take a minute.
STALL_SECONDS = 300.0


class Stalled(Exception):
    """A batch went past the deadline its stage set: its worker cannot make progress."""


class Batch:
    """What a kind's run() gets: the jobs it holds and the ways to end them."""

    def __init__(self, runner: Runner, kind: Kind, lane: Lane, lease: Lease) -> None:
        self.runner = runner
        self.kind = kind
        self.lane = lane
        self.lease = lease

    @property
    def jobs(self) -> list[asyncpg.Record]:
        """The jobs still held (those not ended yet)."""
        return self.lease.jobs

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runner.pool

    def expect(self, seconds: float | None = None, stage: str | None = None) -> None:
        """Progress: the next step ends within `seconds` (default: the runner's
        stall_seconds), or the batch is deemed stuck and its jobs go back to the queue."""
        self.lease.expect(self.runner.stall_seconds if seconds is None else seconds, stage)

    def ended(self, job: asyncpg.Record) -> None:
        """The kind finished this job (or found it was no longer its to finish)."""
        self.lease.drop(job["id"])

    async def retry_or_fail(self, job: asyncpg.Record, exc: Exception) -> None:
        await self.runner.retry_or_fail(self.kind, job, exc)
        self.ended(job)

    async def give_up(self, job: asyncpg.Record, error: str, detail: str | None = None) -> None:
        await self.runner.give_up(self.kind, job, error, detail)
        self.ended(job)


class Runner:
    """Runs jobs until cancelled; any number of runners may share one database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        kinds: Sequence[Kind],
        *,
        lock_seconds: float = 60,
        poll_seconds: float = 5,
        retry_base_seconds: float = 5,
        stall_seconds: float = STALL_SECONDS,
        unknown_grace_seconds: float = 600,
    ) -> None:
        self.pool = pool
        self.kinds = {kind.name: kind for kind in kinds}
        self.lock_seconds = lock_seconds
        self.poll_seconds = poll_seconds
        self.retry_base_seconds = retry_base_seconds
        self.stall_seconds = stall_seconds
        self.unknown_grace_seconds = unknown_grace_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wakes: list[asyncio.Event] = []
        self._leases: dict[Lease, Kind] = {}  # the batches running now
        # Jobs (id, attempt) of batches dropped by a failure or a stall: queued again as
        # soon as the database answers, rather than left locked until their locks expire.
        self._abandoned: list[tuple[int, int]] = []
        self.problem: str | None = None  # why the last claim failed, until one succeeds
        self.failures = 0
        self.dropped = 0  # jobs dropped by a failed or stuck batch, to be queued again

    async def run(self) -> None:
        """Run every lane of every kind (and the NOTIFY listener) until cancelled."""
        tasks = [
            asyncio.create_task(self._lane(kind, lane), name=f"jobs:{lane.name}")
            for kind in self.kinds.values()
            for lane in kind.lanes
        ]
        tasks.append(asyncio.create_task(self._listen(), name="jobs:listen"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                await cancel(task, f"task {task.get_name()}")

    async def _lane(self, kind: Kind, lane: Lane) -> None:
        wake = asyncio.Event()
        self._wakes.append(wake)
        slots = asyncio.Semaphore(lane.concurrency)
        running: set[asyncio.Task[None]] = set()
        delay = RETRY_MIN_SECONDS
        try:
            while True:
                await slots.acquire()
                try:
                    jobs = await self.claim(kind, lane)
                except Exception as exc:
                    slots.release()
                    self._failed(exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                    continue
                delay = RETRY_MIN_SECONDS
                if self.problem is not None:
                    log.info("worker running again after: %s", self.problem)
                    self.problem = None
                if not jobs:
                    slots.release()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll_seconds):
                            await wake.wait()
                    wake.clear()
                    continue
                task = asyncio.create_task(self._run_batch(kind, lane, jobs))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            for task in list(running):
                await cancel(task, f"a batch of lane {lane.name}")

    def _failed(self, exc: Exception, delay: float) -> None:
        self.failures += 1
        self.problem = f"{type(exc).__name__}: {exc}"
        log.warning(
            "claiming jobs failed (%s); trying again in %.1f s",
            self.problem,
            delay,
            exc_info=not isinstance(exc, OUTAGE),
        )

    async def _listen(self) -> None:
        """LISTEN jobs on one connection, opened again whenever it is lost."""
        while True:
            try:
                async with self.pool.acquire() as conn:
                    async with asyncio.timeout(self.stall_seconds):
                        await conn.add_listener(job_sql.CHANNEL, self._on_notify)
                    try:
                        while not conn.is_closed():
                            await asyncio.sleep(self.poll_seconds)
                    finally:
                        with contextlib.suppress(Exception):  # the connection may be gone
                            async with asyncio.timeout(1):
                                await conn.remove_listener(job_sql.CHANNEL, self._on_notify)
            except Exception as exc:  # the lanes poll meanwhile
                log.debug("listening for jobs failed (%s); again in %s s", exc, self.poll_seconds)
                await asyncio.sleep(self.poll_seconds)

    def _on_notify(self, *_: Any) -> None:
        for wake in self._wakes:
            wake.set()

    async def claim(self, kind: Kind, lane: Lane) -> list[asyncpg.Record]:
        """Queue again what was dropped, fail poison jobs, then claim a batch for the lane."""
        async with asyncio.timeout(self.stall_seconds), self.pool.acquire() as conn:
            await self._requeue_abandoned(conn)
            await self._sweep(conn)
            return await job_sql.claim_many(
                conn,
                lock_seconds=self.lock_seconds,
                worker=self.name,
                limit=lane.batch_jobs,
                max_bytes=lane.batch_bytes,
                kinds=[kind.name],
                min_size=lane.min_size,
                below_size=lane.below_size,
            )

    async def sweep(self) -> None:
        """Fail the jobs that took their worker down every time, and those of unknown kinds."""
        async with asyncio.timeout(self.stall_seconds), self.pool.acquire() as conn:
            await self._sweep(conn)

    async def _sweep(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            failed = [*await job_sql.fail_abandoned(conn)]
            failed += await job_sql.fail_unknown(conn, list(self.kinds), self.unknown_grace_seconds)
            for job in failed:
                log.error("job %s (%s) failed: %s", job["id"], job["kind"], job["last_error"])
                if kind := self.kinds.get(job["kind"]):
                    await kind.ended(conn, job, status="failed", error=job["last_error"])

    async def _requeue_abandoned(self, conn: asyncpg.Connection) -> None:
        if not self._abandoned:
            return
        held, self._abandoned = self._abandoned, []
        try:
            ids, attempts = (list(column) for column in zip(*held, strict=True))
            queued = await job_sql.requeue(conn, ids, attempts)
        except BaseException:
            self._abandoned = held + self._abandoned
            raise
        log.info("queued again %d job(s) a failed or stuck batch had claimed", queued)

    async def _run_batch(self, kind: Kind, lane: Lane, jobs: list[asyncpg.Record]) -> None:
        lease = Lease(jobs, self.stall_seconds)
        self._leases[lease] = kind
        beat = asyncio.create_task(heartbeat(self.pool, lease, self.lock_seconds))
        work = asyncio.create_task(kind.run(Batch(self, kind, lane, lease)))
        try:
            await self._supervise(work, lease)
            for job in list(lease.jobs):  # a kind that forgot one: counted as a failure
                await self.retry_or_fail(kind, job, RuntimeError("the job ended without a result"))
                lease.drop(job["id"])
        except (Stalled, *OUTAGE) as exc:
            log.warning("batch of %s job(s) %s dropped (%s)", kind.name, lease.ids, exc)
            self._abandon(lease)
        except Exception as exc:  # a bug, most likely: each job counts an attempt
            log.exception("batch of %s job(s) %s failed", kind.name, lease.ids)
            try:
                for job in list(lease.jobs):
                    await self.retry_or_fail(kind, job, exc)
                    lease.drop(job["id"])
            except Exception:
                self._abandon(lease)
        except BaseException:  # cancelled: the runner stops
            self._abandon(lease)
            raise
        finally:
            lease.stopped = True
            self._leases.pop(lease, None)
            await cancel(beat, f"the heartbeat of jobs {lease.ids}")
            if not work.done():
                await cancel(work, f"the batch of jobs {lease.ids}")

    async def _supervise(self, work: asyncio.Task[None], lease: Lease) -> None:
        """Wait for the batch; cancel it (Stalled) once it is past its stage's deadline."""
        every = min(self.lock_seconds / 3, 5.0)
        while True:
            done, _ = await asyncio.wait({work}, timeout=every)
            if done:
                return work.result()
            if late := lease.overdue():
                stack = "; ".join(
                    f"{frame.f_code.co_name}:{frame.f_lineno}" for frame in work.get_stack()
                )
                await cancel(work, f"the batch of jobs {lease.ids}")
                raise Stalled(
                    f"stuck in stage {lease.stage!r} for {late:.0f} s past its deadline "
                    f"(at {stack or 'an unknown await'})"
                )

    def _abandon(self, lease: Lease) -> None:
        """Stop renewing the lease; its jobs are queued again when the database answers."""
        lease.stopped = True
        self.dropped += len(lease.jobs)
        self._abandoned.extend(zip(lease.ids, lease.attempts, strict=True))
        lease.jobs = []

    async def retry_or_fail(self, kind: Kind, job: asyncpg.Record, exc: Exception) -> None:
        """Queue the job again after a backoff, or fail it after its last attempt."""
        # The kind's error is read by people: what happened, not our exception text
        # (addresses, SQL, paths); the job's last_error keeps the detail for operators.
        detail = f"{type(exc).__name__}: {exc}"
        if job["attempts"] >= job["max_attempts"]:
            await self.give_up(kind, job, public_error(exc, job, final=True), detail)
            return
        delay = self.retry_base_seconds * 2 ** (job["attempts"] - 1)
        async with asyncio.timeout(self.stall_seconds), self.pool.acquire() as conn:
            async with conn.transaction():
                if await job_sql.retry_later(conn, job["id"], detail, delay, job["attempts"]):
                    error = public_error(exc, job, final=False)
                    await kind.ended(conn, job, status="queued", error=error)

    async def give_up(
        self, kind: Kind, job: asyncpg.Record, error: str, detail: str | None = None
    ) -> None:
        """Fail the job for good (if this attempt still holds it)."""
        async with asyncio.timeout(self.stall_seconds), self.pool.acquire() as conn:
            async with conn.transaction():
                if await job_sql.fail(conn, job["id"], detail or error, job["attempts"]):
                    await kind.ended(conn, job, status="failed", error=error)


def public_error(exc: Exception, job: asyncpg.Record, *, final: bool) -> str:
    """What a job's owner reads about a failed attempt."""
    if isinstance(exc, AppError):  # written for people: e.g. the embedding service is down
        what = exc.message
    else:
        what = f"processing failed on the server (job {job['id']}; the server log has why)"
    tries = f"attempt {job['attempts']} of {job['max_attempts']}"
    if final:
        return f"{what}; {tries}, it will not be tried again: upload it again to retry"
    return f"{what}; {tries}, it will be tried again"
