"""Documents and their stored files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg

# NOTIFY channel of document status changes and progress (JSON payloads).
EVENTS_CHANNEL = "document_events"

COLUMNS = (
    "id, title, source, media_type, sha256, size_bytes, status, error, chunk_count,"
    " metadata, created_at, updated_at,"
    " (SELECT name FROM collections WHERE id = collection_id) AS collection"
)


def to_json(row: asyncpg.Record) -> dict[str, Any]:
    doc = dict(row)
    doc.pop("inserted", None)  # insert_document's flag, not a field of the document
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
    size: int,
    collection_id: int,
) -> tuple[asyncpg.Record, bool]:
    """Insert a document (its file follows: copy_file), or find the one in the collection with
    the same content: (row, whether it was inserted).

    One statement: ON CONFLICT DO UPDATE inserts or locks the existing row atomically, so a
    delete between "it exists" and "read it" (DO NOTHING, then SELECT) cannot lose it.
    """
    row = await conn.fetchrow(
        f"""INSERT INTO documents (title, source, media_type, sha256, size_bytes, collection_id)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (collection_id, sha256) WHERE source_id IS NULL
            DO UPDATE SET sha256 = EXCLUDED.sha256
            RETURNING {COLUMNS}, xmax = 0 AS inserted""",
        title,
        source,
        media_type,
        sha256,
        size,
        collection_id,
    )
    return row, row["inserted"]


async def lock_uploaded(
    conn: asyncpg.Connection, collection_id: int, source: str
) -> asyncpg.Record | None:
    """The collection's newest uploaded (not synced) document of this name, locked until the
    transaction ends (two replaces of one document queue one after the other)."""
    return await conn.fetchrow(
        f"""SELECT {COLUMNS} FROM documents
            WHERE collection_id = $1 AND source = $2 AND source_id IS NULL
            ORDER BY created_at DESC LIMIT 1 FOR UPDATE""",
        collection_id,
        source,
    )


async def replace_file(
    conn: asyncpg.Connection,
    document_id: UUID,
    *,
    title: str,
    media_type: str,
    sha256: str,
    size: int,
) -> asyncpg.Record | None:
    """The document now describes a new file (stored next: copy_file) and is queued; None
    when another document of the collection holds exactly this content."""
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction goes on
            return await conn.fetchrow(
                f"""UPDATE documents SET title = $2, media_type = $3, sha256 = $4,
                        size_bytes = $5, status = 'queued', error = NULL, updated_at = now()
                    WHERE id = $1 RETURNING {COLUMNS}""",
                document_id,
                title,
                media_type,
                sha256,
                size,
            )
    except asyncpg.UniqueViolationError:
        return None


async def copy_file(
    conn: asyncpg.Connection, document_id: UUID, parts: AsyncIterable[bytes]
) -> None:
    """Store a document's file as ordered rows, one per part, streamed with COPY.

    Rows in document_files rather than large objects: they go with their document by
    ON DELETE CASCADE (a large object needs its own unlink, or it leaks), live under the
    same grants, dumps and replication as every other table, and need no lo_* privileges
    on managed servers. Each part is TOASTed out of line, compressed where it helps.
    """

    async def rows() -> AsyncIterator[tuple[UUID, int, bytes]]:
        number = 0
        async for part in parts:
            yield document_id, number, part
            number += 1

    await conn.copy_records_to_table(
        "document_files", records=rows(), columns=("document_id", "part", "content")
    )


async def read_file(conn: asyncpg.Connection, document_id: UUID) -> bytes | None:
    """A document's stored file, whole (the parsers need it so); None when it is missing."""
    parts = await conn.fetch(
        "SELECT content FROM document_files WHERE document_id = $1 ORDER BY part", document_id
    )
    return b"".join(row["content"] for row in parts) if parts else None


async def get_document(conn: asyncpg.Connection, document_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM documents WHERE id = $1", document_id)


async def set_status(
    conn: asyncpg.Connection,
    document_id: UUID,
    status: str,
    *,
    error: str,
) -> None:
    """Change a document's status and NOTIFY document_events (sent when the caller commits)."""
    await conn.execute(
        """WITH changed AS (
               UPDATE documents SET status = $2, error = $3, updated_at = now()
               WHERE id = $1
               RETURNING id, title, status, error, chunk_count)
           SELECT pg_notify($4, json_build_object(
               'type', 'status', 'id', id, 'title', title, 'status', status,
               'error', error, 'chunk_count', chunk_count)::text)
           FROM changed""",
        document_id,
        status,
        error,
        EVENTS_CHANNEL,
    )


async def notify_progress(
    conn: asyncpg.Connection, document_id: UUID, *, stage: str, done: int, total: int
) -> None:
    """Tell listeners how far ingestion of a document has gone."""
    payload = {
        "type": "progress",
        "id": str(document_id),
        "stage": stage,
        "done": done,
        "total": total,
    }
    await conn.execute("SELECT pg_notify($1, $2)", EVENTS_CHANNEL, json.dumps(payload))


async def notify_event(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    """Announce a new document (its first status) to listeners."""
    payload = {
        "type": "status",
        "id": str(row["id"]),
        "title": row["title"],
        "status": row["status"],
        "error": row["error"],
        "chunk_count": row["chunk_count"],
    }
    await conn.execute("SELECT pg_notify($1, $2)", EVENTS_CHANNEL, json.dumps(payload))


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


_NOTIFY_CHANGED = """
SELECT pg_notify($1, json_build_object(
    'type', 'status', 'id', id, 'title', title, 'status', status,
    'error', error, 'chunk_count', chunk_count)::text)
FROM changed"""


async def set_processing(conn: asyncpg.Connection, document_ids: list[UUID]) -> None:
    """Mark documents processing and NOTIFY document_events, in one statement."""
    await conn.execute(
        """WITH changed AS (
               UPDATE documents SET status = 'processing', error = NULL, updated_at = now()
               WHERE id = ANY($2::uuid[])
               RETURNING id, title, status, error, chunk_count)"""
        + _NOTIFY_CHANGED,
        EVENTS_CHANNEL,
        document_ids,
    )


async def set_ready(
    conn: asyncpg.Connection,
    document_ids: list[UUID],
    chunk_counts: list[int],
    titles: list[str | None],
) -> None:
    """Mark documents ready with their chunk counts (and parsed titles), NOTIFYing each."""
    await conn.execute(
        """WITH changed AS (
               UPDATE documents d
               SET status = 'ready', error = NULL, chunk_count = u.n,
                   title = coalesce(u.title, d.title), updated_at = now()
               FROM unnest($2::uuid[], $3::int[], $4::text[]) AS u (id, n, title)
               WHERE d.id = u.id
               RETURNING d.id, d.title, d.status, d.error, d.chunk_count)"""
        + _NOTIFY_CHANGED,
        EVENTS_CHANNEL,
        document_ids,
        chunk_counts,
        titles,
    )


async def get_documents(conn: asyncpg.Connection, document_ids: list[UUID]) -> list[asyncpg.Record]:
    """The documents that still exist among these ids (their files: read_file)."""
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM documents WHERE id = ANY($1::uuid[])", document_ids
    )


async def lock_present(conn: asyncpg.Connection, document_ids: list[UUID]) -> set[UUID]:
    """Which of these documents still exist, share-locked until the transaction ends."""
    rows = await conn.fetch(
        "SELECT id FROM documents WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE", document_ids
    )
    return {row["id"] for row in rows}
