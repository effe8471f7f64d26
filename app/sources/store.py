"""Writing one synced item down to the chunk: unchanged chunks keep their ids and vectors.

A chunk is unchanged when its text and heading path are: it keeps its row (and vector,
sentence vectors, postings) and only its position is updated. New chunks are inserted,
vanished ones deleted; the BM25 statistics follow through the insert and delete triggers
on chunks (migration 0003), so they stay exact. All of it, the document's file and status
commit together, fenced by the sync job's attempt.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePath
from uuid import UUID

import asyncpg
import numpy as np

from app.db import chunks as chunk_sql
from app.db import documents as document_sql
from app.ingest.accept import PART_BYTES
from app.ingest.chunk import Chunk


class Lost(Exception):
    """The sync job is no longer this worker's (its lock was taken over): stop writing."""


@dataclass
class Planned:
    """One new or changed item, parsed and matched against its stored chunks."""

    key: str
    stamp: str
    sha256: str
    media_type: str
    data: bytes
    document_id: UUID | None
    title: str | None = None
    chunks: list[Chunk] = field(default_factory=list)
    kept: list[int | None] = field(default_factory=list)  # per chunk: the row it keeps
    removed: list[int] = field(default_factory=list)  # stored chunk ids to delete
    error: str | None = None  # why it cannot be indexed (stored as a failed document)

    @property
    def fresh(self) -> list[int]:
        """Indexes of the chunks to embed."""
        return [i for i, row in enumerate(self.kept) if row is None]


async def match(conn: asyncpg.Connection, planned: Planned) -> None:
    """Pair each new chunk with a stored one of the same text and heading path."""
    stored: dict[tuple[str, tuple[str, ...]], list[int]] = defaultdict(list)
    if planned.document_id is not None:
        rows = await conn.fetch(
            "SELECT id, text, heading_path FROM chunks WHERE document_id = $1 ORDER BY ordinal",
            planned.document_id,
        )
        for row in rows:
            stored[(row["text"], tuple(row["heading_path"]))].append(row["id"])
    planned.kept = []
    for chunk in planned.chunks:
        ids = stored.get((chunk.text, tuple(chunk.heading_path)))
        planned.kept.append(ids.pop(0) if ids else None)
    planned.removed = [i for ids in stored.values() for i in ids]


async def fence(conn: asyncpg.Connection, job: asyncpg.Record) -> None:
    held = await conn.fetchval(
        "SELECT true FROM jobs WHERE id = $1 AND attempts = $2 AND status = 'running' FOR SHARE",
        job["id"],
        job["attempts"],
    )
    if not held:
        raise Lost(f"sync job {job['id']} was taken over")


async def write(
    conn: asyncpg.Connection,
    job: asyncpg.Record,
    source: asyncpg.Record,
    planned: Planned,
    vectors: np.ndarray,
    sentences: list[bytes | None],
    languages: list[str],
) -> None:
    """Store one item (vectors and languages: of its fresh chunks, in order), in the caller's
    transaction."""
    await fence(conn, job)
    status = "failed" if planned.error else "ready"
    document_id = await conn.fetchval(
        """INSERT INTO documents (title, source, media_type, sha256, size_bytes, collection_id,
                                  source_id, item_key, item_stamp, status, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'processing', NULL)
           ON CONFLICT (source_id, item_key) WHERE source_id IS NOT NULL DO UPDATE
           SET sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes,
               media_type = EXCLUDED.media_type, item_stamp = EXCLUDED.item_stamp
           RETURNING id""",
        (planned.title or PurePath(planned.key).name)[:200],
        planned.key,
        planned.media_type,
        planned.sha256,
        len(planned.data),
        source["collection_id"],
        source["id"],
        planned.key,
        planned.stamp,
    )
    if planned.document_id not in (None, document_id):  # pragma: no cover - keys are unique
        raise Lost("the item's document changed under the sync")
    await replace_chunks(conn, document_id, planned, vectors, sentences, languages)
    await conn.execute("DELETE FROM document_files WHERE document_id = $1", document_id)
    await document_sql.copy_file(conn, document_id, _parts(planned.data))
    if status == "ready":
        await document_sql.set_ready(conn, [document_id], [len(planned.chunks)], [planned.title])
    else:
        await conn.execute("UPDATE documents SET chunk_count = 0 WHERE id = $1", document_id)
        await document_sql.set_status(conn, document_id, "failed", error=planned.error or "")


async def replace_chunks(
    conn: asyncpg.Connection,
    document_id: UUID,
    planned: Planned,
    vectors: np.ndarray,
    sentences: list[bytes | None],
    languages: list[str],
) -> None:
    """The document's chunks become `planned.chunks`: kept rows move to their new places,
    removed ones go, fresh ones (with these vectors, in order) are inserted."""
    await conn.execute("DELETE FROM chunks WHERE id = ANY($1::bigint[])", planned.removed)
    # Ordinals are unique per document: move the kept ones aside, then to their places.
    await conn.execute(
        "UPDATE chunks SET ordinal = -1 - ordinal WHERE document_id = $1", document_id
    )
    kept = [(row, i) for i, row in enumerate(planned.kept) if row is not None]
    if kept:
        chunks = [planned.chunks[i] for _, i in kept]
        moved = await conn.fetch(
            """UPDATE chunks c SET ordinal = u.ordinal, char_start = u.cs, char_end = u.ce,
                   page = u.page
               FROM unnest($1::bigint[], $2::int[], $3::int[], $4::int[], $5::int[])
                   AS u (id, ordinal, cs, ce, page)
               WHERE c.id = u.id AND c.document_id = $6
               RETURNING c.id""",
            [row for row, _ in kept],
            [i for _, i in kept],
            [c.char_start for c in chunks],
            [c.char_end for c in chunks],
            [c.page for c in chunks],
            document_id,
        )
        if len(moved) != len(kept):  # changed since they were matched: another attempt
            raise RuntimeError(f"the chunks of document {document_id} changed during the write")
    rows = []
    for n, i in enumerate(planned.fresh):
        chunk = planned.chunks[i]
        new = chunk_sql.NewChunk(
            ordinal=i,
            text=chunk.text,
            heading_path=chunk.heading_path,
            page=chunk.page,
            char_start=chunk.char_start,
            char_end=chunk.char_end,
            token_count=chunk.token_count,
            embedding=vectors[n],
            sentence_vectors=sentences[n],
            language=languages[n],
            ocr_confidence=chunk.ocr_confidence,
        )
        rows.append((document_id, new))
    if rows:
        await chunk_sql.copy_chunks(conn, rows)


async def _parts(data: bytes):  # noqa: ANN202 - an async generator of the file's parts
    for start in range(0, max(len(data), 1), PART_BYTES):
        yield data[start : start + PART_BYTES]
