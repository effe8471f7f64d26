"""One stored passage (a chunk) with its document, as a citation panel shows it."""

from __future__ import annotations

import asyncpg


async def get(conn: asyncpg.Connection, chunk_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT c.id, c.document_id, c.ordinal, c.text, c.heading_path, c.page,
                  c.ocr_confidence,
                  d.title, d.source, d.media_type
           FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = $1""",
        chunk_id,
    )
