"""Chunks: bulk insert, and hybrid (full-text + vector) search fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import numpy as np

INSERT_COLUMNS = (
    "document_id", "ordinal", "text", "heading_path", "page",
    "char_start", "char_end", "token_count", "embedding",
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


async def insert_chunks(
    conn: asyncpg.Connection, document_id: UUID, chunks: Sequence[NewChunk]
) -> None:
    """COPY a document's chunks in one statement (run it inside the caller's transaction)."""
    await conn.copy_records_to_table(
        "chunks",
        columns=INSERT_COLUMNS,
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
            )  # fmt: skip
            for c in chunks
        ],
    )


async def delete_for_document(conn: asyncpg.Connection, document_id: UUID) -> None:
    await conn.execute("DELETE FROM chunks WHERE document_id = $1", document_id)


async def delete_for_documents(conn: asyncpg.Connection, document_ids: list[UUID]) -> None:
    await conn.execute("DELETE FROM chunks WHERE document_id = ANY($1::uuid[])", document_ids)


async def insert_for_documents(
    conn: asyncpg.Connection, chunks: Sequence[tuple[UUID, NewChunk]]
) -> None:
    """COPY the chunks of several documents in one statement (inside the caller's transaction)."""
    await conn.copy_records_to_table(
        "chunks",
        columns=INSERT_COLUMNS,
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
            )  # fmt: skip
            for document_id, c in chunks
        ],
    )


# Reciprocal rank fusion: score = sum over rankings of 1 / (RRF_K + rank).
# 60 is the constant of Cormack et al. (2009); it damps the weight of the very top ranks.
RRF_K = 60

HYBRID_SQL = """
WITH query AS (
    -- OR of the question's stemmed words: a question must not need every word to match.
    SELECT coalesce(string_agg(quote_literal(lexeme), ' | '), '')::tsquery AS tsq
    FROM unnest(to_tsvector('english', $1))
),
lexical AS (
    SELECT id, row_number() OVER (ORDER BY rank DESC, id) AS r
    FROM (
        SELECT c.id, ts_rank_cd(c.tsv, query.tsq, 1) AS rank
        FROM chunks c, query
        WHERE c.tsv @@ query.tsq
        ORDER BY rank DESC, c.id
        LIMIT $3
    ) AS hits
),
vector AS (
    SELECT id, row_number() OVER (ORDER BY distance, id) AS r
    FROM (
        SELECT id, embedding <=> $2 AS distance
        FROM chunks
        ORDER BY embedding <=> $2
        LIMIT $3
    ) AS hits
),
fused AS (
    SELECT id, sum(1.0 / ($5 + r)) AS score
    FROM (SELECT * FROM lexical UNION ALL SELECT * FROM vector) AS ranks
    GROUP BY id
    ORDER BY score DESC, id
    LIMIT $4
)
SELECT c.id AS chunk_id, c.document_id, d.title, c.text, c.page, c.heading_path,
       fused.score::float8 AS score,
       ts_headline('english', c.text, query.tsq,
                   'MaxWords=30, MinWords=12, MaxFragments=1, StartSel="", StopSel=""') AS snippet
FROM fused
JOIN chunks c ON c.id = fused.id
JOIN documents d ON d.id = c.document_id
CROSS JOIN query
ORDER BY fused.score DESC, c.id
"""


async def hybrid_search(
    conn: asyncpg.Connection,
    *,
    text: str,
    embedding: np.ndarray,
    k: int,
    candidates: int = 50,
) -> list[asyncpg.Record]:
    """The k best chunks for a question by RRF of full-text and vector rankings."""
    return await conn.fetch(HYBRID_SQL, text, embedding, max(candidates, k), k, RRF_K)
