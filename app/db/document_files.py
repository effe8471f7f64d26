"""A stored document's bytes, read in pieces so a download never holds the whole file."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def file_info(conn: asyncpg.Connection, document_id: UUID) -> asyncpg.Record | None:
    """(title, source, media_type, length) of a document whose file is stored."""
    return await conn.fetchrow(
        """SELECT d.title, d.source, d.media_type, octet_length(f.content) AS length
           FROM documents d JOIN document_files f ON f.document_id = d.id WHERE d.id = $1""",
        document_id,
    )


async def read_piece(conn: asyncpg.Connection, document_id: UUID, start: int, size: int) -> bytes:
    """size bytes of the file from offset start (0-based); fewer at its end."""
    # substring() on bytea detoasts only the slices it needs when the column is stored
    # uncompressed; either way only this piece crosses the wire.
    return (
        await conn.fetchval(
            "SELECT substring(content FROM $2 FOR $3) FROM document_files WHERE document_id = $1",
            document_id,
            start + 1,
            size,
        )
        or b""
    )
