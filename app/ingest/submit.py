"""Accepting a document: checks, then its row, file and job in one transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg

from app.db import collections as collection_sql
from app.db import documents as document_sql
from app.db import jobs as job_sql
from app.ingest.formats import text as text_format
from app.ingest.parse import check_upload, title_for


@dataclass
class Submitted:
    document: asyncpg.Record
    duplicate: bool


def prepare(data: bytes, source: str, media_type: str) -> str:
    """Check the content (4xx when it cannot be a document of its type); return a title."""
    check_upload(data, source, media_type)
    parsed_title = None
    if media_type == "text/markdown":
        parsed_title = text_format.parse(data, source, markdown=True).title
    return title_for(parsed_title, source)


async def submit(
    conn: asyncpg.Connection,
    *,
    data: bytes,
    source: str,
    media_type: str,
    title: str,
    sha256: str | None = None,
    collection_id: int = collection_sql.DEFAULT_ID,
) -> Submitted:
    """Store a checked document and queue its ingestion; run inside the caller's transaction.

    Content the collection already holds (same sha256) answers with that document and
    queues nothing.
    """
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    row = await document_sql.insert_document(
        conn,
        title=title,
        source=source,
        media_type=media_type,
        sha256=sha256,
        content=data,
        collection_id=collection_id,
    )
    if row is None:
        existing = await document_sql.get_by_sha256(conn, collection_id, sha256)
        assert existing is not None
        return Submitted(existing, duplicate=True)
    await job_sql.enqueue(conn, "ingest", {"document_id": str(row["id"])})
    await document_sql.notify_event(conn, row)
    return Submitted(row, duplicate=False)
