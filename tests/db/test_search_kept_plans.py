"""Hybrid search's lexical statement runs from a temporary function whose plan is kept (generic).

Its rows must be the statement's own, whatever the scope; a connection that has lost its
functions (DISCARD TEMP, part of the DISCARD ALL a pooler may send) defines it again.
"""

import asyncio

import asyncpg
import numpy as np
from pgvector.asyncpg import register_vector

from app.db import search as search_sql
from tests.db.test_search_bounded import TEXTS, _load

QUERIES = ["green tea", "tea water", "leaf cup", "coffee"]  # the last: no term in the scope


def _values(query: str, vector: np.ndarray, documents: list | None) -> dict:
    return {
        "text": query, "embedding": vector, "collections": [1], "documents": documents,
        "candidates": 5, "postings": 4, "checked": 3, "exact_below": 10_000, "k1": 1.2,
        "b": 0.75, "context": "leaf", "context_weight": 0.3,
    }  # fmt: skip


def test_kept_plans_return_what_the_statements_return(settings):
    url = settings.database_url
    documents = asyncio.run(_load(url, TEXTS))

    async def run() -> list[tuple[list, list]]:
        conn = await asyncpg.connect(url)
        await register_vector(conn)
        rng = np.random.default_rng(3)
        pairs = []
        try:
            for query in QUERIES:
                vector = rng.standard_normal(384).astype(np.float32)
                for scope in (None, documents[3:11]):
                    values = _values(query, vector / np.linalg.norm(vector), scope)
                    function = search_sql._LEXICAL_FUNCTION
                    # Twice each: a generic plan is made at the first call, then reused.
                    for _ in range(2):
                        kept = await function.fetch(conn, values)
                        planned = await conn.fetch(
                            function.sql, *(values[n] for n in function.names)
                        )
                        pairs.append((sorted(map(tuple, kept)), sorted(map(tuple, planned))))
            functions = await conn.fetchval(
                "SELECT count(*) FROM pg_proc WHERE pronamespace = pg_my_temp_schema()"
                " AND proname LIKE 'search\\_%' AND 'plan_cache_mode=force_generic_plan'"
                " = ANY(proconfig)"
            )
        finally:
            await conn.close()
        assert functions == 1
        return pairs

    pairs = asyncio.run(run())
    assert any(kept for kept, _ in pairs)
    for kept, planned in pairs:
        assert kept == planned


def test_a_connection_that_lost_its_functions_defines_them_again(settings):
    url = settings.database_url
    asyncio.run(_load(url, TEXTS))

    async def run() -> tuple[list, list]:
        conn = await asyncpg.connect(url)
        await register_vector(conn)
        vector = np.zeros(384, np.float32)
        vector[0] = 1
        values = _values("green tea", vector, None)
        try:
            before = await search_sql._LEXICAL_FUNCTION.fetch(conn, values)
            await conn.execute("DISCARD TEMP")  # as DISCARD ALL does (a pooler may send it)
            after = await search_sql._LEXICAL_FUNCTION.fetch(conn, values)
        finally:
            await conn.close()
        return before, after

    before, after = asyncio.run(run())
    assert before and [tuple(r) for r in after] == [tuple(r) for r in before]
