"""Chunks: bulk insert, and hybrid (full-text + vector) search fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import numpy as np

INSERT_COLUMNS = (
    "document_id", "ordinal", "text", "heading_path", "page",
    "char_start", "char_end", "token_count", "embedding", "sentence_vectors",
)  # fmt: skip


@dataclass(frozen=True)
class NewChunk:
    ordinal: int
    text: str
    heading_path: list[str]
    page: int | None
    char_start: int
    char_end: int
    token_count: int
    embedding: np.ndarray
    sentence_vectors: bytes | None = None
    language: str = "english"  # the text search configuration its lexemes come from
    ocr_confidence: float | None = None  # recognised from an image: its mean OCR confidence


async def copy_chunks(conn: asyncpg.Connection, rows: Sequence[tuple[UUID, NewChunk]]) -> None:
    """COPY chunks of any number of documents in one statement."""
    await conn.copy_records_to_table(
        "chunks",
        columns=(*INSERT_COLUMNS, "language", "ocr_confidence"),
        records=[
            (
                document_id,
                c.ordinal,
                c.text,
                c.heading_path,
                c.page,
                c.char_start,
                c.char_end,
                c.token_count,
                c.embedding,
                c.sentence_vectors,
                c.language,
                c.ocr_confidence,
            )  # fmt: skip
            for document_id, c in rows
        ],
    )


async def delete_for_documents(conn: asyncpg.Connection, document_ids: list[UUID]) -> None:
    await conn.execute("DELETE FROM chunks WHERE document_id = ANY($1::uuid[])", document_ids)


async def sentence_vectors(conn: asyncpg.Connection, chunk_ids: list[int]) -> dict[int, bytes]:
    """Stored sentence vectors of the chunks that have them."""
    rows = await conn.fetch(
        """SELECT id, sentence_vectors FROM chunks
           WHERE id = ANY($1::bigint[]) AND sentence_vectors IS NOT NULL""",
        chunk_ids,
    )
    return {row["id"]: row["sentence_vectors"] for row in rows}
