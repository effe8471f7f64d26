"""The job queue's locks: extended while a job runs, and fenced by the attempt number."""

import asyncio

import pytest

from app.db import jobs as job_sql
from app.db.pool import create_pool
from app.ingest.worker import Worker


@pytest.fixture
async def pool(settings):
    pool = await create_pool(settings.database_url, max_size=4)
    yield pool
    await pool.close()


async def test_a_running_job_keeps_its_lock_while_the_heartbeat_beats(pool):
    async with pool.acquire() as conn:
        job_id = await job_sql.enqueue(conn, "ingest", {"document_id": "x"})
        [job] = await job_sql.claim_many(conn, lock_seconds=0.6, worker="a", limit=1)
    assert job["id"] == job_id
    worker = Worker(pool, embedder=None, lock_seconds=0.6)  # type: ignore[arg-type]
    heartbeat = asyncio.create_task(worker._heartbeat([job]))
    try:
        for _ in range(8):  # well past the 0.6 s lock
            await asyncio.sleep(0.25)
            async with pool.acquire() as conn:
                assert await job_sql.claim_many(conn, lock_seconds=5, worker="b", limit=1) == []
    finally:
        heartbeat.cancel()


async def test_a_worker_whose_lock_was_taken_over_cannot_finish_the_job(pool):
    async with pool.acquire() as conn:
        job_id = await job_sql.enqueue(conn, "ingest", {"document_id": "x"})
        [first] = await job_sql.claim_many(conn, lock_seconds=0.05, worker="slow", limit=1)
        await asyncio.sleep(0.2)  # the slow worker's lock expires
        [second] = await job_sql.claim_many(conn, lock_seconds=60, worker="fast", limit=1)
        assert second["id"] == job_id and second["attempts"] == first["attempts"] + 1
        assert not await job_sql.extend_locks(conn, [job_id], [first["attempts"]], 60)
        assert not await job_sql.finish(conn, job_id, first["attempts"])
        assert not await job_sql.fail(conn, job_id, "late", first["attempts"])
        assert await job_sql.finish_many(conn, [job_id], [first["attempts"]]) == set()
        assert await job_sql.finish_many(conn, [job_id], [second["attempts"]]) == {job_id}
        row = await conn.fetchrow("SELECT status, locked_by FROM jobs WHERE id = $1", job_id)
    assert dict(row) == {"status": "done", "locked_by": "fast"}
