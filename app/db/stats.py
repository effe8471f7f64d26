"""Counts for /metrics, read at scrape time: cheap queries on small tables only."""

from __future__ import annotations

import asyncpg


async def jobs_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM jobs GROUP BY status")
    counts = {status: 0 for status in ("queued", "running", "done", "failed")}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


async def documents_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM documents GROUP BY status")
    counts = {status: 0 for status in ("queued", "processing", "ready", "failed")}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


async def chunks_stored(conn: asyncpg.Connection) -> int:
    # From the documents' own counts: counting the chunks table itself would scan it.
    return await conn.fetchval("SELECT coalesce(sum(chunk_count), 0) FROM documents")
