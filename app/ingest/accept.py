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
from app.ingest.formats import Format
from app.ingest.spool import Spooled

# Bytes per stored part: large enough that a 20 MB upload is 20 rows, small enough that
# neither side of the COPY buffers much.
PART_BYTES = 1024 * 1024


@dataclass
class Accepted:
    document: asyncpg.Record
    duplicate: bool  # the collection already held this content: nothing was queued


async def accept_document(
    conn: asyncpg.Connection,
    file: Spooled,
    *,
    source: str,
    fmt: Format,
    collection: str = collection_sql.DEFAULT,
    collection_id: int | None = None,
) -> Accepted:
    """Check the file, then store it and queue its ingestion in the caller's transaction,
    into the collection `collection_id` (a route resolved it for its caller), else into the
    shared (ownerless) collection named `collection`, created when missing (the command line).

    Content the collection already holds (same sha256) answers with that document and
    queues nothing.
    """
    # Reads the file (in pieces, or only its head): off the event loop.
    seen_title = await asyncio.to_thread(fmt.check, file.path, source)
    if collection_id is None:
        collection_id = await collection_sql.get_or_create(conn, collection)
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


def title_for(seen_title: str | None, source: str) -> str:
    """The document's own title when the check saw one, else its file name (or URL's last
    segment); the worker replaces it with the parsed title (PDF/DOCX metadata, HTML <title>)."""
    return (seen_title or PurePath(source).name)[:200]
