"""Lexical search that reads only a query's best postings (migration 0028) scores exactly.

The chunks go straight into the tables (the triggers index them as ingestion's COPY does), so
a budget of a few postings cuts the lists short on a small corpus.
"""

import asyncio
import uuid

import asyncpg
import numpy as np
import pytest
from pgvector.asyncpg import register_vector

from app.db import search as search_sql

# "tea" in every chunk, at different frequencies and lengths, "green" in some: a budget of a
# few postings reads the best of each list and has to look the rest up.
TEXTS = [
    " ".join(["tea"] * (1 + i % 4) + ["green"] * (i % 3 == 0) + ["leaf", "cup", "water"] * (i % 5))
    for i in range(24)
]
EXHAUSTIVE = search_sql.Tuning(postings=2**62)
BOUNDED = search_sql.Tuning(postings=4, checked=3)


async def _connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await register_vector(conn)
    return conn


async def _load(url: str, texts: list[str]) -> list[uuid.UUID]:
    """One document per text, each with one chunk; the documents' ids."""
    conn = await _connect(url)
    try:
        documents = [uuid.uuid4() for _ in texts]
        rng = np.random.default_rng(1)
        for document, text in zip(documents, texts, strict=True):
            await conn.execute(
                """INSERT INTO documents (id, title, source, media_type, sha256, size_bytes,
                                          status, collection_id)
                   VALUES ($1, 'note', 'test', 'text/plain', $2, 0, 'ready', 1)""",
                document,
                document.hex,
            )
            vector = rng.standard_normal(384).astype(np.float32)
            await conn.execute(
                """INSERT INTO chunks (document_id, ordinal, text, char_start, char_end,
                                       token_count, embedding)
                   VALUES ($1, 0, $2, 0, 0, 1, $3)""",
                document,
                text,
                vector / np.linalg.norm(vector),
            )
        return documents
    finally:
        await conn.close()


async def _lexical(
    url: str,
    query: str,
    tuning: search_sql.Tuning,
    documents: list[uuid.UUID] | None = None,
    limit: int = 10,
) -> list[tuple[int, float]]:
    conn = await _connect(url)
    try:
        rows = await search_sql.search(
            conn, mode="lexical", text=query, embedding=None, collection_ids=[1],
            document_ids=documents, limit=limit, tuning=tuning, ids_only=True,
        )  # fmt: skip
        return [(r["chunk_id"], r["score"]) for r in rows]
    finally:
        await conn.close()


@pytest.mark.parametrize("query", ["green tea", "tea water", "leaf"])
def test_bounded_reading_gives_every_result_its_exact_score(settings, query):
    url = settings.database_url
    asyncio.run(_load(url, TEXTS))
    exact = dict(asyncio.run(_lexical(url, query, EXHAUSTIVE, limit=len(TEXTS))))
    bounded = asyncio.run(_lexical(url, query, BOUNDED))
    assert bounded
    for chunk, score in bounded:
        assert score == pytest.approx(exact[chunk], rel=1e-9), (query, chunk)
    # The best chunk holds the terms' best postings: reading those finds it.
    assert bounded[0][0] == max(exact, key=lambda c: (exact[c], -c))


def test_chosen_documents_are_searched_whole_whatever_the_budget(settings):
    url = settings.database_url
    documents = asyncio.run(_load(url, TEXTS))
    chosen = documents[5:9]
    exact = asyncio.run(_lexical(url, "green tea", EXHAUSTIVE, chosen))
    bounded = asyncio.run(_lexical(url, "green tea", BOUNDED, chosen))
    assert len(bounded) == len(chosen)
    assert bounded == pytest.approx(exact)


def test_lexicon_counts_follow_inserts_and_deletes(settings):
    url = settings.database_url
    asyncio.run(_load(url, TEXTS))

    async def counts() -> tuple[dict, dict]:
        conn = await _connect(url)
        try:
            kept = await conn.fetch("SELECT lexeme, collection_id, language, df FROM lexicon")
            truth = await conn.fetch(
                "SELECT lexeme, collection_id, language, count(*) AS df FROM postings"
                " GROUP BY lexeme, collection_id, language"
            )
            return (
                {(r["lexeme"], r["collection_id"], r["language"]): r["df"] for r in kept},
                {(r["lexeme"], r["collection_id"], r["language"]): r["df"] for r in truth},
            )
        finally:
            await conn.close()

    kept, truth = asyncio.run(counts())
    assert kept == truth and kept[("tea", 1, "english")] == len(TEXTS)

    async def delete_greens() -> None:
        conn = await _connect(url)
        try:
            await conn.execute("DELETE FROM documents WHERE id IN (SELECT document_id FROM chunks"
                               " WHERE text LIKE '%green%')")  # fmt: skip
        finally:
            await conn.close()

    asyncio.run(delete_greens())
    kept, truth = asyncio.run(counts())
    # A term no chunk holds any more leaves no row behind.
    assert kept == truth and ("green", 1, "english") not in kept
