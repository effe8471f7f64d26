"""Regression test: a job whose worker dies every time was taken back for ever."""

import asyncio
import time

import pytest

from app.db import jobs as job_sql
from app.db.pool import create_pool
from app.jobs.worker import Worker
from tests.helpers import submit


@pytest.fixture
async def pool(settings):
    pool = await create_pool(settings.database_url, max_size=4)
    yield pool
    await pool.close()


async def _lock_expired(conn, job_id: int) -> None:
    deadline = time.monotonic() + 10
    while not await conn.fetchval("SELECT locked_until < now() FROM jobs WHERE id = $1", job_id):
        assert time.monotonic() < deadline, "the lock never expired"
        await asyncio.sleep(0.02)


async def test_a_poison_job_fails_its_document_after_its_last_attempt(pool):
    async with pool.acquire() as conn:
        document = (
            await submit(
                conn, data=b"poison", source="poison.txt", media_type="text/plain", title="p"
            )
        ).document
        job_id = await conn.fetchval("SELECT id FROM jobs")
        max_attempts = await conn.fetchval("SELECT max_attempts FROM jobs")
        # Each claim's worker "dies": the job is never finished and its lock runs out.
        for attempt in range(1, max_attempts + 1):
            claimed = await job_sql.claim_many(
                conn, lock_seconds=0.05, worker=f"doomed-{attempt}", limit=10
            )
            assert [(j["id"], j["attempts"]) for j in claimed] == [(job_id, attempt)]
            await _lock_expired(conn, job_id)
        assert await job_sql.claim_many(conn, lock_seconds=60, worker="next", limit=10) == []
    worker = Worker(pool, embedder=None)  # type: ignore[arg-type]
    await worker.sweep()
    async with pool.acquire() as conn:
        job = await conn.fetchrow("SELECT status, attempts, last_error FROM jobs")
        row = await conn.fetchrow(
            "SELECT status, error FROM documents WHERE id = $1", document["id"]
        )
    assert job["status"] == "failed" and job["attempts"] == max_attempts
    assert row["status"] == "failed"
    assert f"stopped {max_attempts} times" in row["error"] and "doomed-3" in row["error"]
