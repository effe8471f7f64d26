"""Documents and their stored files."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

COLUMNS = (
    "id, title, source, media_type, sha256, size_bytes, status, error, chunk_count,"
    " metadata, created_at, updated_at,"
    " (SELECT name FROM collections WHERE id = collection_id) AS collection"
)


def to_json(row: asyncpg.Record) -> dict[str, Any]:
    doc = dict(row)
    doc["id"] = str(doc["id"])
    doc["created_at"] = doc["created_at"].isoformat()
    doc["updated_at"] = doc["updated_at"].isoformat()
    return doc


async def insert_document(
    conn: asyncpg.Connection,
    *,
    title: str,
    source: str,
    media_type: str,
    sha256: str,
    content: bytes,
    collection_id: int,
) -> asyncpg.Record | None:
    """Insert a document and its file; None when the collection already holds that content."""
    row = await conn.fetchrow(
        f"""INSERT INTO documents (title, source, media_type, sha256, size_bytes, collection_id)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (collection_id, sha256) DO NOTHING
            RETURNING {COLUMNS}""",
        title,
        source,
        media_type,
        sha256,
        len(content),
        collection_id,
    )
    if row is not None:
        await conn.execute(
            "INSERT INTO document_files (document_id, content) VALUES ($1, $2)", row["id"], content
        )
    return row


async def get_by_sha256(
    conn: asyncpg.Connection, collection_id: int, sha256: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM documents WHERE collection_id = $1 AND sha256 = $2",
        collection_id,
        sha256,
    )


async def get_document(conn: asyncpg.Connection, document_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM documents WHERE id = $1", document_id)


async def list_documents(
    conn: asyncpg.Connection, *, collection: str | None = None, limit: int = 500
) -> list[asyncpg.Record]:
    """Newest first; only the named collection's when one is given."""
    return await conn.fetch(
        f"""SELECT {COLUMNS} FROM documents
            WHERE $1::text IS NULL
               OR collection_id = (SELECT id FROM collections WHERE name = $1)
            ORDER BY created_at DESC LIMIT $2""",
        collection,
        limit,
    )


async def get_file(conn: asyncpg.Connection, document_id: UUID) -> bytes | None:
    return await conn.fetchval(
        "SELECT content FROM document_files WHERE document_id = $1", document_id
    )


async def set_status(
    conn: asyncpg.Connection,
    document_id: UUID,
    status: str,
    *,
    error: str | None = None,
    chunk_count: int | None = None,
) -> None:
    await conn.execute(
        """UPDATE documents
           SET status = $2, error = $3, chunk_count = coalesce($4, chunk_count), updated_at = now()
           WHERE id = $1""",
        document_id,
        status,
        error,
        chunk_count,
    )


async def delete_document(conn: asyncpg.Connection, document_id: UUID) -> bool:
    """Delete a document; its file and chunks go with it (ON DELETE CASCADE)."""
    return (
        await conn.fetchval("DELETE FROM documents WHERE id = $1 RETURNING true", document_id)
        or False
    )


async def insert_ready_documents(
    conn: asyncpg.Connection, collection_id: int, documents: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, UUID]:
    """Bulk-insert (title, sha256, metadata) rows that the caller chunks itself (evaluation);
    return their ids by sha256."""
    rows = await conn.fetch(
        """INSERT INTO documents
               (title, source, media_type, sha256, size_bytes, status, metadata, collection_id)
           SELECT title, 'eval', 'text/plain', sha256, 0, 'ready', metadata, $4
           FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS t(title, sha256, metadata)
           RETURNING id, sha256""",
        [d[0] for d in documents],
        [d[1] for d in documents],
        [d[2] for d in documents],
        collection_id,
    )
    return {row["sha256"]: row["id"] for row in rows}
