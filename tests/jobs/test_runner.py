"""The job runner with a second kind registered: the queue's guarantees are not ingest's alone.

`Echo` records every run in the database; what a payload asks for (fail, hang, a fake outage)
drives each guarantee: SKIP LOCKED claims, attempts, retries, poison jobs, requeue after an
outage, unknown kinds, and a stuck batch whose locks stop being renewed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import pytest

from app.db import jobs as job_sql
from app.db.pool import create_pool
from app.jobs import Lane
from app.jobs.runner import Batch, Runner
from tests.helpers import eventually


@pytest.fixture
async def pool(settings):
    pool = await create_pool(settings.database_url, max_size=8)
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS echo_runs (job bigint, attempt int, worker text)"
        )
        await conn.execute("TRUNCATE echo_runs")
    yield pool
    async with pool.acquire() as conn:
        await conn.execute("DROP TABLE echo_runs")
    await pool.close()


class Echo:
    """A second kind: runs each job by recording it, after what its payload asks for."""

    name = "echo"

    def __init__(self, worker: str, *, batch: int = 4) -> None:
        self.worker = worker
        self.lanes = (Lane("echo", batch_jobs=batch, concurrency=2),)
        self.ends: list[tuple[int, str, str]] = []  # (job, status, error) from ended()
        self.release = asyncio.Event()  # lets a hung run go (the test's clean-up)

    async def ended(
        self, conn: asyncpg.Connection, job: asyncpg.Record, *, status: str, error: str
    ) -> None:
        self.ends.append((job["id"], status, error))

    async def run(self, batch: Batch) -> None:
        for job in list(batch.jobs):
            asks: dict[str, Any] = job["payload"]
            async with batch.pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO echo_runs VALUES ($1, $2, $3)",
                    job["id"],
                    job["attempts"],
                    self.worker,
                )
            if job["attempts"] <= asks.get("fail", 0):
                await batch.retry_or_fail(
                    job, RuntimeError(f"asked to fail attempt {job['attempts']}")
                )
                continue
            if job["attempts"] <= asks.get("outage", 0):
                raise OSError("connection refused (a pretend database outage)")
            if job["attempts"] <= asks.get("hang", 0):
                batch.expect(0.5, "hanging")  # then never progresses again
                while not self.release.is_set():
                    with contextlib.suppress(asyncio.CancelledError):  # deaf to cancellation
                        await self.release.wait()
            for _ in range(asks.get("slow", 0)):  # long work that keeps its deadlines
                batch.expect(2, "working")
                await asyncio.sleep(0.5)
            async with batch.pool.acquire() as conn:
                if await job_sql.finish(conn, job["id"], job["attempts"]):
                    batch.ended(job)


async def _enqueue(pool: asyncpg.Pool, *payloads: dict[str, Any], kind: str = "echo") -> list[int]:
    async with pool.acquire() as conn:
        return [await job_sql.enqueue(conn, kind, payload) for payload in payloads]


async def _jobs(pool: asyncpg.Pool) -> dict[int, asyncpg.Record]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, status, attempts, last_error FROM jobs")
    return {row["id"]: row for row in rows}


async def _runs(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT job, attempt, worker FROM echo_runs ORDER BY job, attempt")


@contextlib.asynccontextmanager
async def _running(*runners: Runner):
    tasks = [asyncio.create_task(runner.run()) for runner in runners]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _runner(pool: asyncpg.Pool, kind: Echo, **options: Any) -> Runner:
    options = {"poll_seconds": 0.1, "retry_base_seconds": 0.05, **options}
    return Runner(pool, [kind], **options)


async def _all_ended(pool: asyncpg.Pool, ids: list[int]) -> dict[int, asyncpg.Record]:
    async def ended() -> dict[int, asyncpg.Record] | None:
        jobs = await _jobs(pool)
        return jobs if all(jobs[i]["status"] in ("done", "failed") for i in ids) else None

    return await eventually(ended, timeout=60, every=0.05)


async def test_two_runners_of_a_second_kind_run_each_job_exactly_once(pool):
    ids = await _enqueue(pool, *({"n": n} for n in range(40)))
    first, second = Echo("first"), Echo("second")
    async with _running(_runner(pool, first), _runner(pool, second)):
        jobs = await _all_ended(pool, ids)
    assert {jobs[i]["status"] for i in ids} == {"done"}
    runs = await _runs(pool)
    assert sorted(run["job"] for run in runs) == sorted(ids)  # SKIP LOCKED: none twice
    assert {run["attempt"] for run in runs} == {1}


async def test_a_failing_job_of_a_second_kind_is_retried_then_failed_with_its_hook(pool):
    retried, poison = await _enqueue(pool, {"fail": 1}, {"fail": 99})
    kind = Echo("w")
    async with _running(_runner(pool, kind)):
        jobs = await _all_ended(pool, [retried, poison])
    assert (jobs[retried]["status"], jobs[retried]["attempts"]) == ("done", 2)
    assert (jobs[poison]["status"], jobs[poison]["attempts"]) == ("failed", 3)
    assert "asked to fail attempt 3" in jobs[poison]["last_error"]
    statuses = [(job, status) for job, status, _ in kind.ends]
    assert statuses.count((retried, "queued")) == 1 and (retried, "failed") not in statuses
    assert statuses.count((poison, "queued")) == 2 and statuses.count((poison, "failed")) == 1
    final = next(error for job, status, error in kind.ends if (job, status) == (poison, "failed"))
    assert "will not be tried again" in final and "RuntimeError" not in final  # for people


async def test_a_job_of_a_second_kind_dropped_by_an_outage_is_queued_again_at_once(pool):
    # The lock is an hour: only the requeue after the outage can bring the job back.
    (job,) = await _enqueue(pool, {"outage": 1})
    async with _running(_runner(pool, Echo("w"), lock_seconds=3600)):
        jobs = await _all_ended(pool, [job])
    assert (jobs[job]["status"], jobs[job]["attempts"]) == ("done", 2)


async def test_an_outage_in_one_batch_strands_no_job_of_the_batches_beside_it(pool):
    """The old worker's cycle shared one clean-up: a store that failed in an outage made it
    skip stopping the other batches' heartbeats, which renewed their locks for ever."""
    ids = await _enqueue(pool, {"slow": 4}, {"outage": 1}, {"slow": 4}, {"outage": 1})
    async with _running(_runner(pool, Echo("w", batch=1), lock_seconds=3600)):
        jobs = await _all_ended(pool, ids)
    assert [jobs[i]["status"] for i in ids] == ["done"] * 4
    assert [jobs[i]["attempts"] for i in ids] == [1, 2, 1, 2]


async def test_a_second_kind_whose_worker_died_every_time_is_failed_with_its_hook(pool):
    (job,) = await _enqueue(pool, {})
    async with pool.acquire() as conn:
        for attempt in range(1, 4):  # each claim's worker "dies": its lock runs out
            claimed = await job_sql.claim_many(
                conn, lock_seconds=0.05, worker=f"gone-{attempt}", limit=5
            )
            assert [row["id"] for row in claimed] == [job]
            await asyncio.sleep(0.1)
    kind = Echo("w")
    async with _running(_runner(pool, kind)):
        jobs = await _all_ended(pool, [job])
    assert jobs[job]["status"] == "failed" and "stopped 3 times" in jobs[job]["last_error"]
    assert [(j, status) for j, status, _ in kind.ends] == [(job, "failed")]
    assert await _runs(pool) == []


async def test_a_job_of_an_unknown_kind_is_failed_with_a_reason_not_left_queued(pool):
    (job,) = await _enqueue(pool, {"document_id": "not one"}, kind="no-such-kind")
    async with _running(_runner(pool, Echo("w"), unknown_grace_seconds=0)):
        jobs = await _all_ended(pool, [job])
    assert jobs[job]["status"] == "failed"
    assert "unknown job kind 'no-such-kind'" in jobs[job]["last_error"]


async def test_a_long_job_that_keeps_its_deadlines_keeps_its_lock(pool):
    # Six half-second steps under a one-second lock: renewed all along, never taken over.
    (job,) = await _enqueue(pool, {"slow": 6})
    first, second = Echo("first"), Echo("second")
    async with _running(
        _runner(pool, first, lock_seconds=1), _runner(pool, second, lock_seconds=1)
    ):
        jobs = await _all_ended(pool, [job])
    assert (jobs[job]["status"], jobs[job]["attempts"]) == ("done", 1)
    assert len(await _runs(pool)) == 1


async def test_a_job_whose_worker_makes_no_progress_stops_renewing_and_is_claimed_again(pool):
    """A run stuck in an await (deaf to cancellation, like a call an outage left hanging)
    kept its heartbeat renewing the lock for ever: the job stayed `running`."""
    (job,) = await _enqueue(pool, {"hang": 1})
    kind = Echo("w")
    runner = _runner(pool, kind, lock_seconds=1, stall_seconds=30)
    try:
        async with _running(runner):
            jobs = await _all_ended(pool, [job])
        assert (jobs[job]["status"], jobs[job]["attempts"]) == ("done", 2)
        assert [(run["job"], run["attempt"]) for run in await _runs(pool)] == [(job, 1), (job, 2)]
    finally:
        kind.release.set()  # the stuck run may go now; its attempt is fenced off
        await asyncio.sleep(0.1)
    async with pool.acquire() as conn:
        assert not await job_sql.finish(conn, job, 1)
