"""Search SQL: BM25 over the postings table and pgvector HNSW.

Each ranking alone (`search`), or both rankings' candidates at once (`candidates`)
for app.rag.fusion; app.rag.retriever is the one caller.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import asyncpg
import numpy as np

from app.infra.throttled_log import ThrottledWarning

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
    # Postings a lexical query reads, best impact first (migration 0028): rare terms' lists
    # whole, common terms' best postings in equal shares; every chunk read is scored exactly.
    postings: int = 4000
    # Incomplete candidates (missing from a truncated list) whose postings are looked up.
    checked: int = 100
    # Scopes of at most this many chunks are searched exactly, not through HNSW.
    exact_below: int = 10_000


async def apply_session_settings(conn: asyncpg.Connection, tuning: Tuning) -> None:
    """Per-connection pgvector settings (run when a pool opens a connection)."""
    await conn.execute(f"SET hnsw.ef_search = {int(tuning.ef_search)}")
    await conn.execute("SET hnsw.iterative_scan = strict_order")
    # No parallel workers: a search is a few milliseconds of work, and merely starting the
    # workers planned for the exact-scan branch (even when its filter turns it off) took
    # 35-40 ms at 100,000 chunks.
    await conn.execute("SET max_parallel_workers_per_gather = 0")


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
weighted AS (
    -- Each term found in the scope, with its idf (times its weight) from the df the
    -- lexicon keeps (migration 0028), and its language's avgdl.
    SELECT t.language, t.lexeme, x.df, coalesce(ls.avgdl, s.avgdl) AS avgdl,
           t.weight * ln(1 + (coalesce(ls.n, s.n) - x.df + 0.5) / (x.df + 0.5)) AS idf
    FROM terms t
    JOIN (SELECT lexeme, language, sum(df)::float8 AS df FROM lexicon
          WHERE collection_id = ANY(:collections)
            AND lexeme = ANY(ARRAY(SELECT lexeme FROM terms))
          GROUP BY lexeme, language) x ON x.lexeme = t.lexeme AND x.language = t.language
    CROSS JOIN stats s LEFT JOIN language_sizes ls ON ls.language = t.language
),
budget AS (
    -- :postings postings to read, shared out rarest term first: a list that fits its share
    -- is read whole (what it leaves goes to the longer lists), the longer lists get equal
    -- shares of their best postings by impact (water-filling over the terms by df). A
    -- term cut short leaves `unread` of its postings unread.
    SELECT language, lexeme, idf, avgdl, depth, greatest(df - depth, 0) / greatest(df, 1) AS unread
    FROM (SELECT *, CASE WHEN df <= share THEN df
                         -- the first list that does not fit sets the share (the shares
                         -- after it, counted as if it had fit, are smaller)
                         ELSE max(share) FILTER (WHERE df > share) OVER () END AS depth
          FROM (SELECT *, greatest(:postings::float8 - coalesce(sum(df) OVER (
                           ORDER BY df, lexeme, language
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0)
                       / (count(*) OVER () - row_number() OVER (ORDER BY df, lexeme, language)
                          + 1) AS share
                FROM weighted) shares) fitted
),
partial AS (
    -- Each chunk read, scored from the postings read: exact when it was read in every
    -- list cut short (`unknown` = 0); else `likely` guesses what the rest adds (each term
    -- missed: its idf times the chance that the chunk holds it unread, half-saturated).
    SELECT p.chunk_id, sum(p.part) AS lower, count(*) AS matched,
           (SELECT count(*) FROM budget WHERE unread > 0) - count(*) FILTER (WHERE p.unread > 0)
               AS unknown,
           sum(p.part) + (SELECT sum(idf * unread) FROM budget) / 2
               - sum(p.idf * p.unread) / 2 AS likely
    FROM (SELECT b.idf, b.unread, p.chunk_id,
                 b.idf * p.tf / (p.tf + :k1::float8
                                 * (1 - :b::float8 + :b::float8 * p.dl / b.avgdl)) AS part
          FROM budget b CROSS JOIN unnest(:collections::int[]) AS c(id)
          CROSS JOIN LATERAL (
              SELECT chunk_id, tf, dl FROM postings p
              WHERE p.lexeme = b.lexeme AND p.collection_id = c.id AND p.language = b.language
              ORDER BY p.impact DESC LIMIT ceil(b.depth)::bigint
          ) p
          WHERE :documents::uuid[] IS NULL) p
    GROUP BY p.chunk_id
),
probed AS MATERIALIZED (
    -- The :checked likeliest incomplete candidates' own postings of the query's terms (or
    -- those of every chunk of the chosen documents). Materialized: joined to `weighted`
    -- directly, the planner (which expects one term) probed each candidate once per term.
    SELECT pool.chunk_id, p.lexeme, p.language, p.tf, p.dl
    FROM ((SELECT chunk_id FROM partial WHERE unknown > 0
           ORDER BY likely DESC, chunk_id LIMIT :checked)
          UNION ALL
          SELECT id FROM chunks
          WHERE :documents::uuid[] IS NOT NULL
            AND document_id = ANY(:documents) AND collection_id = ANY(:collections)) pool
    CROSS JOIN LATERAL (
        SELECT lexeme, language, tf, dl FROM postings p
        WHERE p.chunk_id = pool.chunk_id AND p.lexeme = ANY(ARRAY(SELECT lexeme FROM weighted))
        OFFSET 0  -- one index probe per candidate, not a join over whole lists
    ) p
),
checked AS (
    -- Their exact BM25.
    SELECT p.chunk_id, count(*) AS matched,
           sum(w.idf * p.tf / (p.tf + :k1::float8
                               * (1 - :b::float8 + :b::float8 * p.dl / w.avgdl))) AS score
    FROM probed p JOIN weighted w ON w.lexeme = p.lexeme AND w.language = p.language
    GROUP BY p.chunk_id
),
lexical AS (
    SELECT chunk_id AS id, score, matched, row_number() OVER (ORDER BY score DESC, chunk_id) AS r
    FROM (
        SELECT chunk_id, lower AS score, matched FROM partial WHERE unknown = 0
        UNION ALL
        SELECT chunk_id, score, matched FROM checked
        ORDER BY score DESC, chunk_id
        LIMIT :candidates
    ) AS ranked
)"""

_VECTOR = """
vector AS (
    -- A small scope (chosen documents, or collections holding at most :exact_below chunks)
    -- is searched exactly: HNSW with a filter that passes few rows walks far through the
    -- graph for them, and on hard data finds few of the true nearest. A large one through
    -- the HNSW index, whose iterative scan (strict order) goes on past filtered-out rows.
    SELECT id, 1 - distance AS score, row_number() OVER (ORDER BY distance, id) AS r
    FROM (
        (SELECT id, embedding <=> :embedding AS distance
         FROM chunks
         WHERE collection_id = ANY(:collections)
           AND :documents::uuid[] IS NULL
           AND (SELECT sum(chunk_count) FROM collections WHERE id = ANY(:collections))
               > :exact_below
         ORDER BY embedding <=> :embedding
         LIMIT :candidates)
        UNION ALL
        (SELECT id, embedding <=> :embedding AS distance
         FROM chunks
         WHERE collection_id = ANY(:collections)
           AND (:documents::uuid[] IS NULL OR document_id = ANY(:documents))
           AND (:documents::uuid[] IS NOT NULL
                OR (SELECT sum(chunk_count) FROM collections WHERE id = ANY(:collections))
                   <= :exact_below)
         ORDER BY (embedding <=> :embedding) + 0  -- an expression the index cannot serve
         LIMIT :candidates)
    ) AS nearest
)"""


_RESULT = """
SELECT c.id AS chunk_id, c.document_id, d.title, c.text, c.page, c.heading_path, c.language,
       ranked.score::float8 AS score
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


# Each ranking's candidates with their raw scores, and what the query's terms found: the
# evidence app.rag.fusion weighs per query. Two statements, so that the two rankings run at
# once on two connections (a search's latency is the slower side's, not the sum).
_LEXICAL_CANDIDATES = (
    "WITH"
    + _LEXICAL
    + """
SELECT id AS chunk_id, score::float8 AS score, matched::int AS matched,
       (SELECT count(DISTINCT lexeme) FROM terms)::int AS terms,
       (SELECT count(DISTINCT lexeme) FROM weighted)::int AS terms_found
FROM lexical"""
)
_VECTOR_CANDIDATES = (
    "WITH" + _VECTOR + "\nSELECT id AS chunk_id, score::float8 AS score FROM vector"
)

_DETAILS = """
SELECT c.id AS chunk_id, c.document_id, d.title, c.text, c.page, c.heading_path, c.language
FROM chunks c JOIN documents d ON d.id = c.document_id
WHERE c.id = ANY(:ids)"""

_PREPARED = {mode: _numbered(sql) for mode, sql in _SQL.items()}
_PREPARED_IDS = {mode: _numbered(sql) for mode, sql in _SQL_IDS.items()}
_PREPARED_VECTOR_CANDIDATES = _numbered(_VECTOR_CANDIDATES)
_PREPARED_DETAILS = _numbered(_DETAILS)


class _Function:
    """A statement held in a temporary PL/pgSQL function, defined on each connection at its
    first call: its plan is made once (generic) and kept, where a prepared statement with
    these CTEs was planned again for every query's values (`plan_cache_mode` auto chose
    custom plans). Planning took 1 ms of the lexical statement's 6 at 100,000 chunks; the
    same 300 queries gave the same top 10 either way (docs/retrieval.md, "The lexical
    statement's plan kept").
    Only for a statement whose best plan does not depend on its values: the vector one's
    generic plan scanned every chunk for a small collection's exact search (60 ms, not 4)."""

    def __init__(self, name: str, sql: str) -> None:
        self.name = name
        self.sql, self.names = _numbered(sql)
        arguments = ", ".join(f"${i + 1}" for i in range(len(self.names)))
        self.call = f"SELECT * FROM pg_temp.{name}({arguments})"

    async def fetch(self, conn: asyncpg.Connection, values: dict[str, Any]) -> list[asyncpg.Record]:
        arguments = [values[name] for name in self.names]
        try:
            return await conn.fetch(self.call, *arguments)
        # A new connection (or one DISCARDed): no function, or no temporary schema yet.
        except (asyncpg.UndefinedFunctionError, asyncpg.InvalidSchemaNameError):
            pass
        try:
            await conn.execute(await self._definition(conn))
        except asyncpg.PostgresError as exc:  # e.g. a read-only standby: plan each time
            _cannot_define.warn("search runs without kept plans: %s", exc)
            return await conn.fetch(self.sql, *arguments)
        return await conn.fetch(self.call, *arguments)

    async def _definition(self, conn: asyncpg.Connection) -> str:
        """CREATE FUNCTION, with the argument and column types the server infers for the
        statement itself (nothing to keep in step by hand)."""
        statement = await conn.prepare(self.sql)
        columns = statement.get_attributes()
        oids = [p.oid for p in statement.get_parameters()] + [c.type.oid for c in columns]
        types = await conn.fetch(
            "SELECT format_type(t, NULL) FROM unnest($1::oid[]) WITH ORDINALITY u(t, i) ORDER BY i",
            oids,
        )
        names = [t[0] for t in types]
        arguments = ", ".join(names[: len(self.names)])
        returns = ", ".join(
            f"{c.name} {name}" for c, name in zip(columns, names[len(self.names) :], strict=True)
        )
        # use_column: the result's column names (chunk_id, score...) also name the
        # statement's own columns, which they must not shadow.
        return f"""CREATE OR REPLACE FUNCTION pg_temp.{self.name}({arguments})
            RETURNS TABLE ({returns}) LANGUAGE plpgsql
            SET plan_cache_mode = force_generic_plan AS $function$
            #variable_conflict use_column
            BEGIN RETURN QUERY {self.sql}; END $function$"""


_cannot_define = ThrottledWarning(logging.getLogger(__name__))
_LEXICAL_FUNCTION = _Function("search_lexical_candidates", _LEXICAL_CANDIDATES)


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
    with text, title, place and language, or only (chunk_id, score) when `ids_only`. The terms of
    `context` (a follow-up's earlier questions) count `context_weight` times as much."""
    sql, names = (_PREPARED_IDS if ids_only else _PREPARED)[mode]
    values: dict[str, Any] = {
        "text": text,
        "embedding": embedding,
        "collections": collection_ids,
        "documents": document_ids,
        "limit": limit,
        "candidates": max(tuning.candidates, limit),
        "postings": tuning.postings,
        "checked": tuning.checked,
        "exact_below": tuning.exact_below,
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
    pool: asyncpg.Pool,
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
    """Both rankings' candidates, for fusion outside SQL (`context` as in `search`): each
    ranking on its own connection of the pool, at the same time."""
    values: dict[str, Any] = {
        "text": text,
        "embedding": embedding,
        "collections": collection_ids,
        "documents": document_ids,
        "candidates": max(tuning.candidates, limit),
        "postings": tuning.postings,
        "checked": tuning.checked,
        "exact_below": tuning.exact_below,
        "k1": tuning.k1,
        "b": tuning.b,
        "context": context,
        "context_weight": context_weight,
    }

    async def lexical_side() -> list[asyncpg.Record]:
        async with pool.acquire() as conn:
            return await _LEXICAL_FUNCTION.fetch(conn, values)

    async def vector_side() -> list[asyncpg.Record]:
        sql, names = _PREPARED_VECTOR_CANDIDATES
        async with pool.acquire() as conn:
            return await conn.fetch(sql, *(values[name] for name in names))

    lexical_rows, vector_rows = await asyncio.gather(lexical_side(), vector_side())
    lexical = [(r["chunk_id"], r["score"], r["matched"]) for r in lexical_rows]
    vector = [(r["chunk_id"], r["score"]) for r in vector_rows]
    lexical.sort(key=lambda c: (-c[1], c[0]))
    vector.sort(key=lambda c: (-c[1], c[0]))
    if lexical_rows:
        terms, terms_found = lexical_rows[0]["terms"], lexical_rows[0]["terms_found"]
    else:
        async with pool.acquire() as conn:
            terms = await conn.fetchval(
                """SELECT count(DISTINCT t.lexeme)
                   FROM (SELECT DISTINCT unnest(languages) AS language FROM collections
                         WHERE id = ANY($2)) l,
                        unnest(to_tsvector(l.language::regconfig, cjk_bigrams($1))) t""",
                text,
                collection_ids,
            )
        terms_found = 0
    return Candidates(lexical, vector, terms, terms_found)


async def details(conn: asyncpg.Connection, *, ids: list[int]) -> list[asyncpg.Record]:
    """Text, title, place and language of the given chunks (in no order)."""
    sql, names = _PREPARED_DETAILS
    values = {"ids": ids}
    return await conn.fetch(sql, *(values[name] for name in names))
