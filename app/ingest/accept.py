"""Accepting a document: one path for uploads, fetched URLs, the ingest command and bench.

The file is already on local disk (spooled and hashed in pieces, or the command's own
file). Its format's upload check answers 4xx at once; then the document row, its file and
its job are written in the caller's transaction, the file streamed into Postgres in parts
so no process holds it whole. The worker reads it back from Postgres, on any machine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import PurePath

import asyncpg

from app.db import collections as collection_sql
from app.db import documents as document_sql
from app.db import jobs as job_sql
from app.errors import Conflict
from app.ingest.formats import Format
from app.ingest.spool import Spooled

# Bytes per stored part: large enough that a 20 MB upload is 20 rows, small enough that
# neither side of the COPY buffers much.
PART_BYTES = 1024 * 1024


@dataclass
class Accepted:
    document: asyncpg.Record
    duplicate: bool  # the collection already held this content: nothing was queued
    replaced: bool = False  # the file replaced the collection's document of the same name


async def accept_document(
    conn: asyncpg.Connection,
    file: Spooled,
    *,
    source: str,
    fmt: Format,
    collection: str = collection_sql.DEFAULT,
    collection_id: int | None = None,
    replace: bool = False,
) -> Accepted:
    """Check the file, then store it and queue its ingestion in the caller's transaction,
    into the collection `collection_id` (a route resolved it for its caller), else into the
    shared (ownerless) collection named `collection`, created when missing (the command line).

    Content the collection already holds (same sha256) answers with that document and
    queues nothing. With `replace`, a document of the same name (`source`) in the
    collection gets the new file instead, re-indexed down to the chunk (app/jobs/replace.py);
    without one it is a plain upload.
    """
    # Reads the file (in pieces, or only its head): off the event loop.
    seen_title = await asyncio.to_thread(fmt.check, file.path, source)
    if collection_id is None:
        collection_id = await collection_sql.get_or_create(conn, collection)
    if replace:
        old = await document_sql.lock_uploaded(conn, collection_id, source)
        if old is not None:
            return await _replace(conn, old, file, fmt, title_for(seen_title, source))
    row, inserted = await document_sql.insert_document(
        conn,
        title=title_for(seen_title, source),
        source=source,
        media_type=fmt.media_type,
        sha256=file.sha256,
        size=file.size,
        collection_id=collection_id,
    )
    if not inserted:
        return Accepted(row, duplicate=True)
    await document_sql.copy_file(conn, row["id"], file.pieces(PART_BYTES))
    await job_sql.enqueue(conn, "ingest", {"document_id": str(row["id"])})
    await document_sql.notify_event(conn, row)
    return Accepted(row, duplicate=False)


async def _replace(
    conn: asyncpg.Connection, old: asyncpg.Record, file: Spooled, fmt: Format, title: str
) -> Accepted:
    if old["sha256"] == file.sha256:  # the same file again: nothing to do
        return Accepted(old, duplicate=True)
    if old["status"] in ("queued", "processing"):
        raise Conflict(
            f"{old['source']!r} is still being indexed; replace it once it is ready",
            code="document_busy",
        )
    row = await document_sql.replace_file(
        conn, old["id"], title=title, media_type=fmt.media_type, sha256=file.sha256,
        size=file.size,
    )  # fmt: skip
    if row is None:
        raise Conflict(
            "the collection already holds a document with exactly this content",
            code="duplicate_content",
        )
    await conn.execute("DELETE FROM document_files WHERE document_id = $1", old["id"])
    await document_sql.copy_file(conn, old["id"], file.pieces(PART_BYTES))
    await job_sql.enqueue(conn, "replace", {"document_id": str(old["id"])})
    await document_sql.notify_event(conn, row)
    return Accepted(row, duplicate=False, replaced=True)


def title_for(seen_title: str | None, source: str) -> str:
    """The document's own title when the check saw one, else its file name (or URL's last
    segment); the worker replaces it with the parsed title (PDF/DOCX metadata, HTML <title>)."""
    return (seen_title or PurePath(source).name)[:200]
