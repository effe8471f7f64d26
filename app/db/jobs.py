"""The job queue of every kind (app/jobs): claimed with FOR UPDATE SKIP LOCKED, NOTIFY jobs."""

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


async def requeue(conn: asyncpg.Connection, job_ids: list[int], attempts: list[int]) -> int:
    """Queue again, at once, the jobs these attempts still hold (their worker dropped them);
    those out of attempts are left to expire and fail. How many were queued."""
    status = await conn.execute(
        """UPDATE jobs SET status = 'queued', locked_until = NULL, run_after = now(),
               updated_at = now()
           FROM unnest($1::bigint[], $2::int[]) AS held (id, attempt)
           WHERE jobs.id = held.id AND jobs.attempts = held.attempt
             AND jobs.status = 'running' AND jobs.attempts < jobs.max_attempts""",
        job_ids,
        attempts,
    )
    return int(status.split()[-1])


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
    conn: asyncpg.Connection,
    *,
    lock_seconds: float,
    worker: str,
    limit: int,
    max_bytes: int | None = None,
    kinds: list[str] | None = None,
    min_size: int = 0,
    below_size: int | None = None,
) -> list[asyncpg.Record]:
    """Claim up to `limit` runnable jobs at once (so small documents share model batches).

    With `max_bytes`, the jobs' documents add up to at most that many bytes (the first job
    is claimed whatever its size). `kinds` (None: any) and the size range [min_size,
    below_size) pick a lane: a job's size is its document's (0 for a job without one). The
    attempt is counted here, at claim time: a job whose lock expired (its worker died or
    hung) is taken back only while attempts remain; see fail_abandoned for the others.
    """
    return await conn.fetch(
        """WITH candidates AS (
               SELECT j.id, j.run_after, coalesce(d.size_bytes, 0) AS size
               FROM jobs j
               LEFT JOIN documents d ON d.id = CASE
                   WHEN j.payload->>'document_id' ~ '^[0-9a-fA-F-]{36}$'
                   THEN (j.payload->>'document_id')::uuid END
               WHERE ((j.status = 'queued' AND j.run_after <= now())
                      OR (j.status = 'running' AND j.locked_until < now()
                          AND j.attempts < j.max_attempts))
                 AND ($5::text[] IS NULL OR j.kind = ANY($5::text[]))
                 AND coalesce(d.size_bytes, 0) >= $6
                 AND ($7::bigint IS NULL OR coalesce(d.size_bytes, 0) < $7)
               ORDER BY j.run_after, j.id
               FOR UPDATE OF j SKIP LOCKED
               LIMIT $3),
           bounded AS (
               SELECT id FROM (
                   SELECT id, sum(size) OVER w AS total, row_number() OVER w AS n
                   FROM candidates WINDOW w AS (ORDER BY run_after, id)) c
               WHERE $4::bigint IS NULL OR n = 1 OR total <= $4)
           UPDATE jobs
           SET status = 'running', attempts = attempts + 1, updated_at = now(),
               locked_until = now() + make_interval(secs => $1), locked_by = $2
           WHERE id IN (SELECT id FROM bounded)
           RETURNING id, kind, payload, attempts, max_attempts""",
        lock_seconds,
        worker,
        limit,
        max_bytes,
        kinds,
        min_size,
        below_size,
    )


async def fail_abandoned(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Fail the jobs whose every attempt ended with its worker gone; return them.

    A job that kills or hangs its worker (a poison document) would otherwise travel
    through every worker for ever, each claim taking another one down.
    """
    return await conn.fetch(
        """UPDATE jobs
           SET status = 'failed', locked_until = NULL, updated_at = now(),
               last_error = format(
                   'processing stopped %s times without finishing (the worker crashed, was '
                   'killed or hung on it, last on %s); it will not be tried again%s',
                   attempts, coalesce(nullif(locked_by, ''), 'an unnamed worker'),
                   coalesce('; earlier error: ' || last_error, ''))
           WHERE id IN (
               SELECT id FROM jobs
               WHERE status = 'running' AND locked_until < now() AND attempts >= max_attempts
               FOR UPDATE SKIP LOCKED)
           RETURNING id, kind, payload, attempts, max_attempts, last_error""",
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


async def fail_unknown(
    conn: asyncpg.Connection, kinds: list[str], grace_seconds: float
) -> list[asyncpg.Record]:
    """Fail the jobs of a kind no worker here knows (a typo, or a kind removed) once they
    have waited `grace_seconds` (during a rolling deploy, a newer worker may know them)."""
    return await conn.fetch(
        """UPDATE jobs
           SET status = 'failed', locked_until = NULL, updated_at = now(),
               last_error = format('unknown job kind %L: this worker runs %s', kind,
                                   array_to_string($1::text[], ', '))
           WHERE id IN (
               SELECT id FROM jobs
               WHERE status = 'queued' AND NOT kind = ANY($1::text[])
                 AND run_after <= now() - make_interval(secs => $2)
               FOR UPDATE SKIP LOCKED)
           RETURNING id, kind, payload, attempts, max_attempts, last_error""",
        kinds,
        grace_seconds,
    )
