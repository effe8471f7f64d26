"""BM25 in SQL against a reference implementation, and the statistics the triggers keep."""

import asyncio

import asyncpg
import bm25s
import numpy as np
import pytest

from app.db import search as search_sql
from tests.helpers import ingest

CORPUS = {
    "tea.txt": "Green tea is steeped briefly. Green tea tastes grassy; black tea is bolder.",
    "coffee.txt": "Coffee beans are roasted. Dark roast coffee is bitter, light roast is fruity.",
    "bread.txt": "Bread needs flour, water, salt and yeast. Sourdough bread uses wild yeast.",
    "garden.txt": "Tea plants grow in gardens on hills; the garden needs rain and sun.",
    "long.txt": " ".join(["A very long note about water, salt and a little green tea."] * 6),
    "short.txt": "Salt.",
}
QUERIES = ["green tea", "how is coffee roasted", "salt water yeast bread", "garden rain", "nothing"]


async def _fetch(url: str, sql: str, *args):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def _lexical(url: str, query: str, tuning: search_sql.Tuning) -> dict[int, float]:
    async def run():
        conn = await asyncpg.connect(url)
        try:
            rows = await search_sql.search(
                conn, mode="lexical", text=query, embedding=None, collection_ids=[1],
                document_ids=None, limit=50, tuning=tuning, ids_only=True,
            )  # fmt: skip
            return {row["chunk_id"]: row["score"] for row in rows}
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.mark.parametrize("k1,b", [(1.2, 0.75), (0.9, 0.4)])
def test_bm25_in_sql_equals_the_reference_implementation(client, settings, k1, b):
    for name, text in CORPUS.items():
        ingest(client, name, text)
    url = settings.database_url
    # The reference sees exactly the tokens Postgres indexed: each lexeme once per position.
    chunks = asyncio.run(_fetch(url, "SELECT id, tsv FROM chunks ORDER BY id"))
    tokens = asyncio.run(
        _fetch(
            url,
            "SELECT c.id, array_agg(t.lexeme ORDER BY t.lexeme) AS lexemes,"
            " array_agg(coalesce(array_length(t.positions, 1), 1) ORDER BY t.lexeme) AS counts"
            " FROM chunks c, unnest(c.tsv) t GROUP BY c.id ORDER BY c.id",
        )
    )
    assert len(tokens) == len(chunks) == len(CORPUS)
    corpus_tokens = [
        [lexeme for lexeme, n in zip(row["lexemes"], row["counts"], strict=True) for _ in range(n)]
        for row in tokens
    ]
    reference = bm25s.BM25(k1=k1, b=b, method="lucene")
    reference.index(corpus_tokens, show_progress=False)
    tuning = search_sql.Tuning(k1=k1, b=b)
    for query in QUERIES:
        lexemes = asyncio.run(
            _fetch(url, "SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', $1))", query)
        )
        query_tokens = [r["lexeme"] for r in lexemes if r["lexeme"] in reference.vocab_dict]
        expected = reference.get_scores(query_tokens) if query_tokens else np.zeros(len(tokens))
        got = _lexical(url, query, tuning)
        for row, score in zip(tokens, expected, strict=True):
            assert got.get(row["id"], 0.0) == pytest.approx(float(score), rel=1e-5, abs=1e-6), query


def test_collection_statistics_follow_inserts_and_deletes(client, settings):
    url = settings.database_url
    first = ingest(client, "tea.txt", CORPUS["tea.txt"])
    ingest(client, "bread.txt", CORPUS["bread.txt"])

    def stats():
        [row] = asyncio.run(
            _fetch(url, "SELECT chunk_count, total_length, version FROM collections WHERE id = 1")
        )
        [truth] = asyncio.run(
            _fetch(
                url,
                "SELECT count(*) AS n, coalesce(sum(lexeme_count(tsv)), 0) AS len FROM chunks",
            )
        )
        postings = asyncio.run(_fetch(url, "SELECT count(*) AS n FROM postings"))[0]["n"]
        return row, truth, postings

    row, truth, postings = stats()
    assert (row["chunk_count"], row["total_length"]) == (truth["n"], truth["len"])
    assert row["chunk_count"] == 2 and row["total_length"] > 10
    assert postings > 0
    version = row["version"]
    client.delete(f"/api/documents/{first['id']}")
    row, truth, _ = stats()
    assert (row["chunk_count"], row["total_length"]) == (truth["n"], truth["len"])
    assert row["chunk_count"] == 1 and row["version"] > version
    orphans = asyncio.run(
        _fetch(
            url, "SELECT count(*) AS n FROM postings WHERE chunk_id NOT IN (SELECT id FROM chunks)"
        )
    )
    assert orphans[0]["n"] == 0
