"""The ingestion job queue: claimed with FOR UPDATE SKIP LOCKED, woken by NOTIFY jobs."""

from __future__ import annotations

from typing import Any

import asyncpg

CHANNEL = "jobs"


async def enqueue(conn: asyncpg.Connection, kind: str, payload: dict[str, Any]) -> int:
    """Queue a job; the NOTIFY is delivered when the caller's transaction commits."""
    job_id = await conn.fetchval(
        "INSERT INTO jobs (kind, payload) VALUES ($1, $2) RETURNING id", kind, payload
    )
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(job_id))
    return job_id


async def claim(conn: asyncpg.Connection, *, lock_seconds: float) -> asyncpg.Record | None:
    """Take the oldest runnable job, or one whose worker's lock expired (it died)."""
    return await conn.fetchrow(
        """UPDATE jobs
           SET status = 'running', attempts = attempts + 1, updated_at = now(),
               locked_until = now() + make_interval(secs => $1)
           WHERE id = (
               SELECT id FROM jobs
               WHERE (status = 'queued' AND run_after <= now())
                  OR (status = 'running' AND locked_until < now())
               ORDER BY run_after, id
               FOR UPDATE SKIP LOCKED
               LIMIT 1)
           RETURNING id, kind, payload, attempts, max_attempts""",
        lock_seconds,
    )


async def finish(conn: asyncpg.Connection, job_id: int) -> None:
    await conn.execute(
        "UPDATE jobs SET status = 'done', locked_until = NULL, updated_at = now() WHERE id = $1",
        job_id,
    )


async def retry_later(conn: asyncpg.Connection, job_id: int, error: str, delay: float) -> None:
    await conn.execute(
        """UPDATE jobs
           SET status = 'queued', last_error = $2, locked_until = NULL, updated_at = now(),
               run_after = now() + make_interval(secs => $3)
           WHERE id = $1""",
        job_id,
        error,
        delay,
    )


async def fail(conn: asyncpg.Connection, job_id: int, error: str) -> None:
    await conn.execute(
        """UPDATE jobs SET status = 'failed', last_error = $2, locked_until = NULL,
           updated_at = now() WHERE id = $1""",
        job_id,
        error,
    )
