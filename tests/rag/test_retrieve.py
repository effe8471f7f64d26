"""Retrieval: what happens when many people ask the same question at once."""

import asyncio

import numpy as np

from app.backends.cache import MemoryCache
from app.db.pool import create_pool
from app.rag.retriever import Retriever


class CountingEmbedder:
    """A stand-in model that counts its calls and takes a moment, as a real one does."""

    name = "counting"
    dimension = 384

    def __init__(self) -> None:
        self.calls = 0

    async def embed(self, texts):
        self.calls += 1
        await asyncio.sleep(0.05)
        return np.full((len(texts), self.dimension), self.dimension**-0.5, dtype=np.float32)


async def test_a_burst_of_the_same_question_is_embedded_once(settings):
    pool = await create_pool(settings.database_url, max_size=4)
    embedder = CountingEmbedder()
    cache = MemoryCache()
    retriever = Retriever(pool, embedder, cache)  # type: ignore[arg-type]
    try:
        results = await asyncio.gather(*(retriever.retrieve("green tea") for _ in range(20)))
    finally:
        await pool.close()
    assert embedder.calls == 1
    assert all(r.passages == results[0].passages for r in results)


async def test_issue_search_cache_key_left_out_the_embedder(settings):
    # After a model change a shared cache answered with the ranking of the old model.
    pool = await create_pool(settings.database_url, max_size=4)
    cache = MemoryCache()
    old, new = CountingEmbedder(), CountingEmbedder()
    new.name = "another-model"
    try:
        await Retriever(pool, old, cache).retrieve("green tea")  # type: ignore[arg-type]
        await Retriever(pool, new, cache).retrieve("green tea")  # type: ignore[arg-type]
    finally:
        await pool.close()
    assert old.calls == 1 and new.calls == 1
