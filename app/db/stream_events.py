"""Answer-stream events for SSE resume (the Postgres backend of app/backends/stream_log.py)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg


async def append(conn: asyncpg.Connection, rows: Sequence[tuple[UUID, int, str, str]]) -> None:
    """Insert (stream id, seq, event name, data as JSON text) rows, of one stream or several."""
    await conn.executemany(
        """INSERT INTO stream_events (stream_id, seq, event, data)
           VALUES ($1, $2, $3, $4::text::jsonb)""",
        rows,
    )


async def after(conn: asyncpg.Connection, stream_id: UUID, seq: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT seq, event, data FROM stream_events
           WHERE stream_id = $1 AND seq > $2 ORDER BY seq""",
        stream_id,
        seq,
    )


async def delete_older_than(conn: asyncpg.Connection, seconds: int) -> None:
    await conn.execute(
        "DELETE FROM stream_events WHERE created_at < now() - make_interval(secs => $1)",
        seconds,
    )
