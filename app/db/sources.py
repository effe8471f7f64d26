"""Sources and their sync jobs; the schedule is the next sync job, queued for later."""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from app.db import jobs as job_sql

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # the table's CHECK

COLUMNS = """s.id, s.name, s.kind, s.settings, s.every_minutes, s.paused, s.last_sync_at,
    s.last_error, s.last_counts, s.created_at, s.collection_id,
    (SELECT name FROM collections WHERE id = s.collection_id) AS collection,
    (SELECT count(*) FROM documents d WHERE d.source_id = s.id) AS document_count,
    (SELECT j.status FROM jobs j WHERE j.kind = 'sync' AND j.payload->>'source_id' = s.id::text
       AND j.status IN ('queued', 'running') LIMIT 1) AS sync_status,
    (SELECT j.run_after FROM jobs j WHERE j.kind = 'sync'
       AND j.payload->>'source_id' = s.id::text AND j.status = 'queued' LIMIT 1) AS next_sync_at"""


def to_json(row: asyncpg.Record) -> dict[str, Any]:
    """A source as the API shows it: settings without secrets."""
    settings = dict(row["settings"])
    settings.pop("secret", None)
    when = {k: row[k].isoformat() if row[k] else None for k in ("last_sync_at", "next_sync_at")}
    return {
        "id": row["id"],
        "name": row["name"],
        "kind": row["kind"],
        "collection": row["collection"],
        "settings": settings,
        "every_minutes": row["every_minutes"],
        "paused": row["paused"],
        "last_error": row["last_error"],
        "last_counts": row["last_counts"],
        "document_count": row["document_count"],
        "sync_status": row["sync_status"],
        "created_at": row["created_at"].isoformat(),
        **when,
    }


async def create(
    conn: asyncpg.Connection,
    *,
    name: str,
    kind: str,
    collection_id: int,
    settings: dict[str, Any],
    every_minutes: int | None,
    created_by: Any,
) -> int | None:
    """The new source's id; None when the name is taken."""
    return await conn.fetchval(
        """INSERT INTO sources (name, kind, collection_id, settings, every_minutes, created_by)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING id""",
        name,
        kind,
        collection_id,
        settings,
        every_minutes,
        created_by,
    )


async def get(conn: asyncpg.Connection, source_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM sources s WHERE s.id = $1", source_id)


async def by_name(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM sources s WHERE s.name = $1", name)


async def list_sources(
    conn: asyncpg.Connection, readable: list[int] | None = None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {COLUMNS} FROM sources s
            WHERE $1::int[] IS NULL OR s.collection_id = ANY($1::int[]) ORDER BY s.name""",
        readable,
    )


async def request_sync(conn: asyncpg.Connection, source_id: int) -> tuple[int, bool]:
    """(job id, whether it was already running): a sync waiting for its time is brought
    forward, one running is left to finish, otherwise one is queued. The unique index
    jobs_one_sync_idx keeps it to one however many requests race."""
    key = str(source_id)
    for _ in range(3):
        row = await conn.fetchrow(
            """UPDATE jobs SET run_after = least(run_after, now())
               WHERE kind = 'sync' AND payload->>'source_id' = $1
                 AND status IN ('queued', 'running')
               RETURNING id, status""",
            key,
        )
        if row is not None:
            await conn.execute("SELECT pg_notify($1, $2)", job_sql.CHANNEL, str(row["id"]))
            return row["id"], row["status"] == "running"
        job_id = await schedule(conn, source_id, delay_minutes=0)
        if job_id is not None:
            return job_id, False
    raise RuntimeError("a sync job appeared and vanished three times")  # pragma: no cover


async def schedule(conn: asyncpg.Connection, source_id: int, *, delay_minutes: float) -> int | None:
    """Queue a sync of the source in `delay_minutes`, unless one is queued or running."""
    job_id = await conn.fetchval(
        """INSERT INTO jobs (kind, payload, run_after)
           VALUES ('sync', $1, now() + make_interval(secs => $2))
           ON CONFLICT DO NOTHING RETURNING id""",
        {"source_id": str(source_id)},
        delay_minutes * 60,
    )
    if job_id is not None:
        await conn.execute("SELECT pg_notify($1, $2)", job_sql.CHANNEL, str(job_id))
    return job_id


async def record(
    conn: asyncpg.Connection, source_id: int, *, error: str | None, counts: dict[str, int] | None
) -> None:
    """The outcome of a sync; a failed one keeps the last good counts."""
    await conn.execute(
        """UPDATE sources SET last_sync_at = now(), last_error = $2,
               last_counts = coalesce($3, last_counts)
           WHERE id = $1""",
        source_id,
        error,
        counts,
    )


async def schedule_next(conn: asyncpg.Connection, source_id: int) -> None:
    """After a sync ends: the next one, when the source has a schedule and is not paused."""
    row = await conn.fetchrow("SELECT every_minutes, paused FROM sources WHERE id = $1", source_id)
    if row is not None and row["every_minutes"] and not row["paused"]:
        await schedule(conn, source_id, delay_minutes=row["every_minutes"])


async def documents(conn: asyncpg.Connection, source_id: int) -> dict[str, asyncpg.Record]:
    """The source's documents by item key."""
    rows = await conn.fetch(
        """SELECT id, item_key, item_stamp, sha256, status FROM documents
           WHERE source_id = $1""",
        source_id,
    )
    return {row["item_key"]: row for row in rows}


async def delete(conn: asyncpg.Connection, source_id: int) -> None:
    """Delete a source with its documents (ON DELETE CASCADE) and its waiting sync; a sync
    running now finds it gone and ends."""
    await conn.execute(
        """DELETE FROM jobs WHERE kind = 'sync' AND payload->>'source_id' = $1
             AND status = 'queued'""",
        str(source_id),
    )
    await conn.execute("DELETE FROM sources WHERE id = $1", source_id)


async def detach_documents(conn: asyncpg.Connection, source_id: int) -> None:
    """Keep the source's documents as if uploaded, before the source is deleted. Uploads hold
    one copy per content in a collection: a synced copy of bytes already there goes."""
    await conn.execute(
        """WITH ranked AS (
               SELECT d.id,
                      row_number() OVER (PARTITION BY d.sha256 ORDER BY d.created_at, d.id)
                          AS nth,
                      EXISTS (SELECT 1 FROM documents u
                              WHERE u.collection_id = d.collection_id
                                AND u.sha256 = d.sha256 AND u.source_id IS NULL) AS uploaded
               FROM documents d WHERE d.source_id = $1)
           DELETE FROM documents
           WHERE id IN (SELECT id FROM ranked WHERE nth > 1 OR uploaded)""",
        source_id,
    )
    await conn.execute(
        """UPDATE documents SET source_id = NULL, item_key = NULL, item_stamp = NULL
           WHERE source_id = $1""",
        source_id,
    )


async def set_paused(conn: asyncpg.Connection, source_id: int, paused: bool) -> None:
    """Pausing drops the waiting scheduled sync; resuming queues one now (if scheduled)."""
    await conn.execute("UPDATE sources SET paused = $2 WHERE id = $1", source_id, paused)
    if paused:
        await conn.execute(
            """DELETE FROM jobs WHERE kind = 'sync' AND payload->>'source_id' = $1
                 AND status = 'queued'""",
            str(source_id),
        )
    elif await conn.fetchval("SELECT every_minutes FROM sources WHERE id = $1", source_id):
        await schedule(conn, source_id, delay_minutes=0)
