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


async def finish(conn: asyncpg.Connection, job_id: int, attempt: int) -> bool:
    """Mark a job done, if this attempt still holds it.

    `attempts` doubles as a fencing token: a worker only finishes, retries, fails or extends
    a job while attempts still equals the value it claimed it with.
    """
    return bool(
        await conn.fetchval(
            """UPDATE jobs SET status = 'done', locked_until = NULL, updated_at = now()
               WHERE id = $1 AND attempts = $2 AND status = 'running'
               RETURNING true""",
            job_id,
            attempt,
        )
    )


async def retry_later(
    conn: asyncpg.Connection, job_id: int, error: str, delay: float, attempt: int
) -> bool:
    """Queue the job again after `delay` seconds, if this attempt still holds it."""
    return bool(
        await conn.fetchval(
            """UPDATE jobs
               SET status = 'queued', last_error = $2, locked_until = NULL, updated_at = now(),
                   run_after = now() + make_interval(secs => $3)
               WHERE id = $1 AND attempts = $4 AND status = 'running'
               RETURNING true""",
            job_id,
            error,
            delay,
            attempt,
        )
    )


async def fail(conn: asyncpg.Connection, job_id: int, error: str, attempt: int) -> bool:
    """Mark the job failed for good, if this attempt still holds it."""
    return bool(
        await conn.fetchval(
            """UPDATE jobs SET status = 'failed', last_error = $2, locked_until = NULL,
                   updated_at = now()
               WHERE id = $1 AND attempts = $3 AND status = 'running'
               RETURNING true""",
            job_id,
            error,
            attempt,
        )
    )


async def claim_many(
    conn: asyncpg.Connection, *, lock_seconds: float, worker: str, limit: int
) -> list[asyncpg.Record]:
    """Claim up to `limit` runnable jobs at once (so small documents share model batches).

    A runnable job is queued and due, or running with an expired lock (its worker died).
    """
    return await conn.fetch(
        """UPDATE jobs
           SET status = 'running', attempts = attempts + 1, updated_at = now(),
               locked_until = now() + make_interval(secs => $1), locked_by = $2
           WHERE id IN (
               SELECT id FROM jobs
               WHERE (status = 'queued' AND run_after <= now())
                  OR (status = 'running' AND locked_until < now())
               ORDER BY run_after, id
               FOR UPDATE SKIP LOCKED
               LIMIT $3)
           RETURNING id, kind, payload, attempts, max_attempts""",
        lock_seconds,
        worker,
        limit,
    )


async def finish_many(
    conn: asyncpg.Connection, job_ids: list[int], attempts: list[int]
) -> set[int]:
    """Mark done the jobs each attempt still holds; return their ids."""
    rows = await conn.fetch(
        """UPDATE jobs SET status = 'done', locked_until = NULL, updated_at = now()
           FROM unnest($1::bigint[], $2::int[]) AS held (id, attempts)
           WHERE jobs.id = held.id AND jobs.attempts = held.attempts
             AND jobs.status = 'running'
           RETURNING jobs.id""",
        job_ids,
        attempts,
    )
    return {row["id"] for row in rows}


async def extend_locks(
    conn: asyncpg.Connection, job_ids: list[int], attempts: list[int], lock_seconds: float
) -> int:
    """Push forward the locks still held by these attempts; return how many were."""
    rows = await conn.fetch(
        """UPDATE jobs SET locked_until = now() + make_interval(secs => $3)
           FROM unnest($1::bigint[], $2::int[]) AS held (id, attempts)
           WHERE jobs.id = held.id AND jobs.attempts = held.attempts
             AND jobs.status = 'running'
           RETURNING jobs.id""",
        job_ids,
        attempts,
        lock_seconds,
    )
    return len(rows)
