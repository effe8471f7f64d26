"""The documents page's list: filtered by collections (ids) and status, one page at a time."""

from __future__ import annotations

import asyncpg

from app.db.documents import COLUMNS


async def page(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    limit: int,
    offset: int,
    readable: list[int] | None = None,
    uploaded_as: str | None = None,
) -> list[asyncpg.Record]:
    """Newest first, with each document's page count (the highest page a chunk is on); only
    those in the `readable` collections when that is given, and only uploads (not synced)
    under the file name `uploaded_as` when that is."""
    return await conn.fetch(
        f"""SELECT {COLUMNS},
                   (SELECT max(page) FROM chunks c WHERE c.document_id = documents.id)
                       AS page_count
            FROM documents
            WHERE ($1::text IS NULL OR status = $1)
              AND ($4::int[] IS NULL OR collection_id = ANY($4::int[]))
              AND ($5::text IS NULL OR (source = $5 AND source_id IS NULL))
            ORDER BY created_at DESC, id LIMIT $2 OFFSET $3""",
        status,
        limit,
        offset,
        readable,
        uploaded_as,
    )


async def status_counts(
    conn: asyncpg.Connection, readable: list[int] | None = None
) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT status, count(*)::int AS n FROM documents
           WHERE $1::int[] IS NULL OR collection_id = ANY($1::int[])
           GROUP BY status""",
        readable,
    )
    return {r["status"]: r["n"] for r in rows}


async def collections(
    conn: asyncpg.Connection, readable: list[int] | None = None
) -> list[asyncpg.Record]:
    """Every collection (among the `readable` ids when given) with how many documents it
    holds, by name."""
    return await conn.fetch(
        """SELECT c.id, c.name, c.created_at, c.owner_id,
                  (SELECT count(*) FROM documents d WHERE d.collection_id = c.id)::int
                      AS document_count
           FROM collections c WHERE $1::int[] IS NULL OR c.id = ANY($1::int[])
           ORDER BY c.name""",
        readable,
    )
