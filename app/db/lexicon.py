"""How rare words are in a collection: the document frequencies the lexicon keeps (migration
0028), read for the extractive answerer's decision to answer."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from app.text.bm25 import idf


async def rarity(
    conn: asyncpg.Connection, collection_ids: Sequence[int], lexemes: Sequence[str]
) -> dict[str, float]:
    """Each lexeme's BM25 idf over the collections' chunks (every language together); a
    lexeme no chunk holds gets the highest."""
    # One round trip: the chunk count comes as the row whose lexeme is NULL.
    rows = await conn.fetch(
        """SELECT NULL AS lexeme, coalesce(sum(chunk_count), 0)::float8 AS df
             FROM collections WHERE id = ANY($1::int[])
           UNION ALL
           SELECT lexeme, sum(df)::float8 FROM lexicon
            WHERE collection_id = ANY($1::int[]) AND lexeme = ANY($2::text[]) GROUP BY lexeme""",
        list(collection_ids),
        list(lexemes),
    )
    df = {r["lexeme"]: r["df"] for r in rows}
    n = df.pop(None)
    return {t: idf(n, df.get(t, 0.0)) for t in lexemes}
