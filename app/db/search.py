"""Search SQL: BM25 over the postings table and pgvector HNSW.

Each ranking alone (`search`), or both rankings' candidates in one round trip (`candidates`)
for app.rag.fusion; app.rag.retriever is the one caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import asyncpg
import numpy as np

Mode = Literal["lexical", "vector"]


@dataclass(frozen=True)
class Tuning:
    """Constants chosen by `python -m app eval` on msmarco, confirmed on business-reports."""

    k1: float = 1.2  # BM25 term-frequency saturation
    b: float = 0.75  # BM25 length normalisation
    # How many each ranking contributes to the fusion (msmarco nDCG@10: 100 and 60 give
    # 0.8008, 50 gives 0.7998, 40 0.7972 < vector alone); equal to ef_search, the HNSW scan
    # needs one pass (SQL p50 at 100k chunks: 76 ms with 100 candidates and ef_search 40).
    candidates: int = 50
    # The vector side's share of the fused score (app.rag.fusion). BM25/best spans [0, 1]
    # while (1 + cos)/(1 + best cos) spans about [0.6, 1] for real candidates, so 0.85 gives
    # both similar reach; docs/retrieval.md has the figures on every set.
    vector_share: float = 0.85
    # A follow-up's earlier questions, against 1 for its own words (app.rag.followup).
    context_weight: float = 0.3
    # HNSW candidates per pass; iterative scans continue past it when filters remove rows.
    ef_search: int = 50


async def apply_session_settings(conn: asyncpg.Connection, tuning: Tuning) -> None:
    """Per-connection pgvector settings (run when a pool opens a connection)."""
    await conn.execute(f"SET hnsw.ef_search = {int(tuning.ef_search)}")
    await conn.execute("SET hnsw.iterative_scan = strict_order")


DEFAULT_TUNING = Tuning()

_LEXICAL = """
languages AS (
    SELECT DISTINCT unnest(languages) AS language FROM collections WHERE id = ANY(:collections)
),
terms AS (
    -- The query analysed in each language of the scope, each analysis matching the postings
    -- of chunks in that language; a follow-up's context (earlier questions) weighs less.
    SELECT language, lexeme, max(weight) AS weight
    FROM (SELECT language, t.lexeme, 1.0::float8 AS weight
          FROM languages, unnest(to_tsvector(language::regconfig, cjk_bigrams(:text))) t
          UNION ALL
          SELECT language, t.lexeme, :context_weight::float8
          FROM languages, unnest(to_tsvector(language::regconfig, cjk_bigrams(:context))) t
         ) AS analysed
    GROUP BY language, lexeme
),
stats AS (
    SELECT greatest(sum(chunk_count), 1)::float8 AS n,
           greatest(sum(total_length), 1)::float8 / greatest(sum(chunk_count), 1) AS avgdl
    FROM collections WHERE id = ANY(:collections)
),
language_sizes AS (
    -- N and avgdl per language, as df is counted per language (migration 0016).
    SELECT language, greatest(sum(chunk_count), 1)::float8 AS n,
           greatest(sum(total_length), 1)::float8 / greatest(sum(chunk_count), 1) AS avgdl
    FROM collection_languages WHERE collection_id = ANY(:collections) GROUP BY language
),
matches AS (
    SELECT p.chunk_id, p.lexeme, p.tf, p.dl, p.language, terms.weight,
           count(*) OVER (PARTITION BY p.language, p.lexeme) AS df
    FROM terms JOIN postings p ON p.lexeme = terms.lexeme AND p.collection_id = ANY(:collections)
                              AND p.language = terms.language
),
lexical AS (
    SELECT chunk_id AS id, score, matched, row_number() OVER (ORDER BY score DESC, chunk_id) AS r
    FROM (
        SELECT m.chunk_id, count(*) AS matched,
               sum(m.weight * ln(1 + (coalesce(ls.n, s.n) - m.df + 0.5) / (m.df + 0.5))
                   * m.tf / (m.tf + :k1::float8
                             * (1 - :b::float8 + :b::float8 * m.dl / coalesce(ls.avgdl, s.avgdl))))
                   AS score
        FROM matches m CROSS JOIN stats s LEFT JOIN language_sizes ls ON ls.language = m.language
        WHERE :documents::uuid[] IS NULL
           OR m.chunk_id IN (SELECT id FROM chunks WHERE document_id = ANY(:documents))
        GROUP BY m.chunk_id
        ORDER BY score DESC, m.chunk_id
        LIMIT :candidates
    ) AS ranked
)"""

_VECTOR = """
vector AS (
    SELECT id, 1 - distance AS score, row_number() OVER (ORDER BY distance, id) AS r
    FROM (
        SELECT id, embedding <=> :embedding AS distance
        FROM chunks
        WHERE collection_id = ANY(:collections)
          AND (:documents::uuid[] IS NULL OR document_id = ANY(:documents))
        ORDER BY embedding <=> :embedding
        LIMIT :candidates
    ) AS nearest
)"""


_RESULT = """
SELECT c.id AS chunk_id, c.document_id, d.title, c.text, c.page, c.heading_path,
       ranked.score::float8 AS score,
       ts_headline(c.language::regconfig, c.text,
                   (SELECT coalesce(string_agg(quote_literal(lexeme), ' | '), '')::tsquery
                    FROM unnest(to_tsvector(c.language::regconfig, :text))),
                   'MaxWords=30, MinWords=12, MaxFragments=1, StartSel="", StopSel=""')
           AS snippet
FROM (SELECT id, score FROM {source} ORDER BY score DESC, id LIMIT :limit) AS ranked
JOIN chunks c ON c.id = ranked.id
JOIN documents d ON d.id = c.document_id
ORDER BY ranked.score DESC, c.id"""

_IDS = """
SELECT id AS chunk_id, score::float8 AS score FROM {source} ORDER BY score DESC, id LIMIT :limit"""

_CTES = {
    "lexical": ("WITH" + _LEXICAL, "lexical"),
    "vector": ("WITH" + _VECTOR, "vector"),
}
_SQL = {mode: ctes + _RESULT.format(source=source) for mode, (ctes, source) in _CTES.items()}
_SQL_IDS = {mode: ctes + _IDS.format(source=source) for mode, (ctes, source) in _CTES.items()}


def _numbered(sql: str) -> tuple[str, list[str]]:
    """Turn :name placeholders into $1, $2... (asyncpg's style) and list the names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return re.sub(r"(?<!:):([a-z_][a-z0-9_]*)", number, sql), names


# Both rankings' candidates with their raw scores, and what the query's terms found: the
# evidence app.rag.fusion weighs per query.
_CANDIDATES = (
    "WITH"
    + _LEXICAL
    + ","
    + _VECTOR
    + """
SELECT 'lexical' AS side, id AS chunk_id, score::float8 AS score, matched::int AS matched,
       (SELECT count(DISTINCT lexeme) FROM terms)::int AS terms,
       (SELECT count(DISTINCT lexeme) FROM matches)::int AS terms_found
FROM lexical
UNION ALL
SELECT 'vector', id, score::float8, NULL, NULL, NULL FROM vector"""
)

_DETAILS = """
SELECT c.id AS chunk_id, c.document_id, d.title, c.text, c.page, c.heading_path,
       ts_headline(c.language::regconfig, c.text,
                   (SELECT coalesce(string_agg(quote_literal(lexeme), ' | '), '')::tsquery
                    FROM unnest(to_tsvector(c.language::regconfig, :text))),
                   'MaxWords=30, MinWords=12, MaxFragments=1, StartSel="", StopSel=""')
           AS snippet
FROM chunks c JOIN documents d ON d.id = c.document_id
WHERE c.id = ANY(:ids)"""

_PREPARED = {mode: _numbered(sql) for mode, sql in _SQL.items()}
_PREPARED_IDS = {mode: _numbered(sql) for mode, sql in _SQL_IDS.items()}
_PREPARED_CANDIDATES = _numbered(_CANDIDATES)
_PREPARED_DETAILS = _numbered(_DETAILS)


async def search(
    conn: asyncpg.Connection,
    *,
    mode: Mode,
    text: str,
    embedding: np.ndarray | None,
    collection_ids: list[int],
    document_ids: list[UUID] | None,
    limit: int,
    tuning: Tuning = DEFAULT_TUNING,
    ids_only: bool = False,
    context: str = "",
    context_weight: float = 0.0,
) -> list[asyncpg.Record]:
    """The best `limit` chunks of the given collections (and documents) for a query:
    with text, title and snippet, or only (chunk_id, score) when `ids_only`. The terms of
    `context` (a follow-up's earlier questions) count `context_weight` times as much."""
    sql, names = (_PREPARED_IDS if ids_only else _PREPARED)[mode]
    values: dict[str, Any] = {
        "text": text,
        "embedding": embedding,
        "collections": collection_ids,
        "documents": document_ids,
        "limit": limit,
        "candidates": max(tuning.candidates, limit),
        "k1": tuning.k1,
        "b": tuning.b,
        "context": context,
        "context_weight": context_weight,
    }
    return await conn.fetch(sql, *(values[name] for name in names))


@dataclass(frozen=True)
class Candidates:
    """Each ranking's best chunks, best first, with raw scores (BM25; cosine similarity)."""

    lexical: list[tuple[int, float, int]]  # (chunk id, BM25, how many query terms it holds)
    vector: list[tuple[int, float]]  # (chunk id, cosine similarity)
    terms: int  # the query's distinct lexemes
    terms_found: int  # how many of them occur in the scope


async def candidates(
    conn: asyncpg.Connection,
    *,
    text: str,
    embedding: np.ndarray,
    collection_ids: list[int],
    document_ids: list[UUID] | None,
    limit: int,
    tuning: Tuning = DEFAULT_TUNING,
    context: str = "",
    context_weight: float = 0.0,
) -> Candidates:
    """Both rankings' candidates in one round trip, for fusion outside SQL (`context` as in
    `search`)."""
    sql, names = _PREPARED_CANDIDATES
    values: dict[str, Any] = {
        "text": text,
        "embedding": embedding,
        "collections": collection_ids,
        "documents": document_ids,
        "candidates": max(tuning.candidates, limit),
        "k1": tuning.k1,
        "b": tuning.b,
        "context": context,
        "context_weight": context_weight,
    }
    rows = await conn.fetch(sql, *(values[name] for name in names))
    lexical = [(r["chunk_id"], r["score"], r["matched"]) for r in rows if r["side"] == "lexical"]
    vector = [(r["chunk_id"], r["score"]) for r in rows if r["side"] == "vector"]
    lexical.sort(key=lambda c: (-c[1], c[0]))
    vector.sort(key=lambda c: (-c[1], c[0]))
    terms_found = 0
    if first := next((r for r in rows if r["side"] == "lexical"), None):
        terms, terms_found = first["terms"], first["terms_found"]
    else:
        terms = await conn.fetchval(
            """SELECT count(DISTINCT t.lexeme)
               FROM (SELECT DISTINCT unnest(languages) AS language FROM collections
                     WHERE id = ANY($2)) l,
                    unnest(to_tsvector(l.language::regconfig, cjk_bigrams($1))) t""",
            text,
            collection_ids,
        )
    return Candidates(lexical, vector, terms, terms_found)


async def details(conn: asyncpg.Connection, *, ids: list[int], text: str) -> list[asyncpg.Record]:
    """Text, title and a query-highlighted snippet of the given chunks (in no order)."""
    sql, names = _PREPARED_DETAILS
    values = {"ids": ids, "text": text}
    return await conn.fetch(sql, *(values[name] for name in names))
