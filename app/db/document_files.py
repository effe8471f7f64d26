"""A stored document's bytes, read in pieces so a download never holds the whole file."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def file_info(conn: asyncpg.Connection, document_id: UUID) -> asyncpg.Record | None:
    """(title, source, media_type, length) of a document whose file is stored."""
    return await conn.fetchrow(
        """SELECT d.title, d.source, d.media_type, sum(octet_length(f.content))::bigint AS length
           FROM documents d JOIN document_files f ON f.document_id = d.id WHERE d.id = $1
           GROUP BY d.id""",
        document_id,
    )


async def read_piece(conn: asyncpg.Connection, document_id: UUID, start: int, size: int) -> bytes:
    """size bytes of the file from offset start (0-based); fewer at its end.

    The file is stored as ordered parts (see documents.copy_file): only the slices of the
    parts that overlap the piece are read, and octet_length needs no detoasting.
    """
    return (
        await conn.fetchval(
            """WITH parts AS (
                   SELECT part, content,
                          (sum(octet_length(content)) OVER (ORDER BY part)
                              - octet_length(content))::int AS offset_
                   FROM document_files WHERE document_id = $1)
               SELECT string_agg(
                          substring(content FROM greatest($2::int - offset_, 0) + 1
                                    FOR least($2::int + $3::int, offset_ + octet_length(content))
                                        - greatest($2, offset_)),
                          ''::bytea ORDER BY part)
               FROM parts
               WHERE offset_ < $2 + $3 AND offset_ + octet_length(content) > $2""",
            document_id,
            start,
            size,
        )
        or b""
    )
