"""The job queue's locks: extended while a job runs, and fenced by the attempt number."""

import asyncio

import pytest

from app.db import jobs as job_sql
from app.db.pool import create_pool
from app.jobs.lease import Lease, heartbeat
from tests.helpers import claim_one, eventually


@pytest.fixture
async def pool(settings):
    pool = await create_pool(settings.database_url, max_size=4)
    yield pool
    await pool.close()


async def test_a_running_job_keeps_its_lock_while_the_heartbeat_beats(pool):
    lock = 1.5  # the heartbeat renews it every 0.5 s
    async with pool.acquire() as conn:
        job_id = await job_sql.enqueue(conn, "ingest", {"document_id": "x"})
        job = await claim_one(conn, lock_seconds=lock, worker="a")
        first_expiry = await conn.fetchval("SELECT locked_until FROM jobs WHERE id = $1", job_id)
    assert job["id"] == job_id
    beating = asyncio.create_task(heartbeat(pool, Lease([job], within=600), lock))

    async def well_past_the_first_lock() -> bool:
        # Until the database's clock is a whole lock period past the first expiry, nobody
        # else may claim the job at any moment.
        async with pool.acquire() as conn:
            assert await claim_one(conn, lock_seconds=5, worker="b") is None
            return await conn.fetchval(
                "SELECT now() > $1::timestamptz + make_interval(secs => $2::float8)",
                first_expiry,
                lock,
            )

    try:
        await eventually(well_past_the_first_lock, timeout=60)
    finally:
        beating.cancel()


async def test_a_worker_whose_lock_was_taken_over_cannot_finish_the_job(pool):
    async with pool.acquire() as conn:
        job_id = await job_sql.enqueue(conn, "ingest", {"document_id": "x"})
        first = await claim_one(conn, lock_seconds=0.05, worker="slow")
        # Claimed again as soon as the slow worker's lock expires.
        second = await eventually(lambda: claim_one(conn, lock_seconds=60, worker="fast"))
        assert second["id"] == job_id and second["attempts"] == first["attempts"] + 1
        assert not await job_sql.extend_locks(conn, [job_id], [first["attempts"]], 60)
        assert not await job_sql.finish(conn, job_id, first["attempts"])
        assert not await job_sql.fail(conn, job_id, "late", first["attempts"])
        assert await job_sql.finish_many(conn, [job_id], [first["attempts"]]) == set()
        assert await job_sql.finish_many(conn, [job_id], [second["attempts"]]) == {job_id}
        row = await conn.fetchrow("SELECT status, locked_by FROM jobs WHERE id = $1", job_id)
    assert dict(row) == {"status": "done", "locked_by": "fast"}
