"""`python -m app reindex` while the site runs: search answers from the old vectors until the
swap, and from the new model's after it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import numpy as np
import pytest

from app.db.pool import create_pool
from app.embedders.onnx import OnnxEmbedder
from app.ingest import reindex as reindex_module
from app.ingest.reindex import reindex
from app.jobs.worker import Worker
from app.rag.retriever import Retriever
from app.resources import run_migrations
from tests.helpers import eventually, submit

DOCUMENTS = {
    "bees.txt": "Honey bees collect nectar from flowers and turn it into honey in wax combs.",
    "volcano.txt": "A volcano erupts when magma rises through the crust and pours out as lava.",
    "chess.txt": "In chess the king is checkmated when it is attacked and cannot escape.",
    "bread.txt": "Bakers knead dough with yeast, let it rise, and bake the loaf in a hot oven.",
    "tides.txt": "The moon's gravity pulls on the oceans and raises the tides twice a day.",
    "glacier.txt": "Glaciers are rivers of ice that carve valleys as they slide down mountains.",
}
QUESTIONS = {
    "How do bees make honey?": "bees.txt",
    "What comes out of an erupting volcano?": "volcano.txt",
    "Why does the sea rise and fall each day?": "tides.txt",
}


class Interrupted(Exception):
    pass


class Projected:
    """Another embedding model, for real: MiniLM's vectors through a fixed random projection
    to 256 dimensions. Its space is not the old one: the stored vectors cannot answer its
    queries, and a new dimension needs a new column."""

    name = "projected-minilm"
    dimension = 256

    def __init__(self, inner: OnnxEmbedder) -> None:
        self.inner = inner
        self.max_tokens = inner.max_tokens
        self.scripts = inner.scripts
        rotation, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(384, 384)))
        self.matrix = rotation[:, : self.dimension].astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _unit(self, vectors: np.ndarray) -> np.ndarray:
        projected = vectors @ self.matrix
        return projected / np.linalg.norm(projected, axis=-1, keepdims=True)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._unit(await self.inner.embed(texts))

    async def embed_spans(self, texts, spans):
        vectors, pooled = await self.inner.embed_spans(texts, spans)
        return self._unit(vectors), [None if p is None else self._unit(p) for p in pooled]

    async def close(self) -> None:
        pass


async def out_of_line_vectors(conn: asyncpg.Connection) -> int:
    """Chunks whose vector sits in the TOAST table, not in their row."""
    return await conn.fetchval(
        "SELECT count(*) FROM chunks WHERE pg_column_toast_chunk_id(embedding) IS NOT NULL"
    )


async def test_a_chunks_vector_is_kept_in_its_row_not_in_the_toast_table(ingested):
    """An exact distance (a small scope's search, a candidate's similarity) and an HNSW
    build read each vector: through the TOAST index when it was moved out of its row."""
    pool, _ = ingested
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM chunks") == len(DOCUMENTS)
        assert await out_of_line_vectors(conn) == 0


async def top_source(retriever: Retriever, question: str) -> str:
    retrieval = await retriever.retrieve(question, k=1, mode="vector")
    async with retriever.pool.acquire() as conn:
        return await conn.fetchval(
            "SELECT source FROM documents WHERE id = $1", retrieval.passages[0].document_id
        )


@pytest.fixture
async def ingested(empty_database):
    await run_migrations(empty_database)
    pool = await create_pool(empty_database)
    old = await OnnxEmbedder.load(None)
    async with pool.acquire() as conn, conn.transaction():
        for source, text in DOCUMENTS.items():
            await submit(
                conn, data=text.encode(), source=source, media_type="text/plain", title=source
            )
    worker = asyncio.create_task(Worker(pool, old, poll_seconds=0.2).run())

    async def all_ready() -> bool:
        return await pool.fetchval("SELECT count(*) FROM documents WHERE status = 'ready'") == len(
            DOCUMENTS
        )

    await eventually(all_ready, timeout=120)
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    yield pool, old
    await old.close()
    await pool.close()


async def test_search_answers_from_old_vectors_during_reindex_and_new_model_after(
    ingested, monkeypatch
):
    pool, old = ingested
    new = Projected(old)
    monkeypatch.setattr(reindex_module, "BATCH", 1)  # one chunk a step: many steps to search in
    progress: list[tuple[int, int]] = []
    answers: list[tuple[tuple[int, int] | None, str, str]] = []
    reindexing = asyncio.Event()

    async def search_meanwhile() -> None:
        retriever = Retriever(pool, old)
        while not reindexing.is_set():
            for question, expected in QUESTIONS.items():
                at = progress[-1] if progress else None
                try:
                    answers.append((at, await top_source(retriever, question), expected))
                except asyncpg.DataError:  # the old model's queries against the new vectors
                    stored = await pool.fetchval("SELECT name FROM embedding_model")
                    assert stored == new.name, "search failed before the swap"
                    return
            await asyncio.sleep(0)

    searching = asyncio.create_task(search_meanwhile())
    count = await reindex(pool, new, lambda done, total: progress.append((done, total)))
    reindexing.set()
    await searching

    assert count == len(DOCUMENTS) and progress[-1] == (count, count)
    # Searches ran while the new vectors were being written, and all found the right passage.
    assert any(at is not None and 0 < at[0] < at[1] for at, _, _ in answers), answers
    assert all(found == expected for _, found, expected in answers), answers
    # After the swap the new model answers, from its own 256-dimension vectors and index.
    retriever = Retriever(pool, new)
    for question, expected in QUESTIONS.items():
        assert await top_source(retriever, question) == expected
    async with pool.acquire() as conn:
        model = await conn.fetchrow("SELECT name, dimension FROM embedding_model")
        assert (model["name"], model["dimension"]) == (new.name, 256)
        assert await conn.fetchval("SELECT vector_dims(embedding) FROM chunks LIMIT 1") == 256
        assert await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'chunks_embedding_idx'"
        ) == (
            "CREATE INDEX chunks_embedding_idx ON public.chunks USING hnsw"
            " (embedding vector_cosine_ops) WITH (m='16', ef_construction='128')"
        )
        columns = {
            r["attname"]: r["attnotnull"]
            for r in await conn.fetch(
                """SELECT attname, attnotnull FROM pg_attribute
                   WHERE attrelid = 'chunks'::regclass AND attnum > 0 AND NOT attisdropped"""
            )
        }
        assert columns["embedding"] is True
        assert "embedding_next" not in columns and "sentence_vectors_next" not in columns
        # The new column keeps its vectors in their rows, as migration 0029 keeps the old one.
        assert await out_of_line_vectors(conn) == 0
    with pytest.raises(asyncpg.DataError):  # the old model's queries no longer fit
        await Retriever(pool, old).retrieve("How do bees make honey?", k=1, mode="vector")


async def test_an_interrupted_reindex_resumes_where_it_stopped(ingested, monkeypatch):
    pool, old = ingested
    new = Projected(old)
    monkeypatch.setattr(reindex_module, "BATCH", 2)
    seen: list[tuple[int, int]] = []

    def stop_after_first_batch(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 2:
            raise Interrupted  # as a killed process would stop, after one batch was written

    with pytest.raises(Interrupted):
        await reindex(pool, new, stop_after_first_batch)
    # The old vectors still answer; the half-written new ones wait beside them.
    assert await top_source(Retriever(pool, old), "How do bees make honey?") == "bees.txt"
    resumed: list[tuple[int, int]] = []
    await reindex(pool, new, lambda done, total: resumed.append((done, total)))
    assert resumed[0] == (2, len(DOCUMENTS))  # the first batch was not embedded again
    assert await top_source(Retriever(pool, new), "How do bees make honey?") == "bees.txt"


class Recorded(Projected):
    """Projected, noting when each model call starts and ends."""

    def __init__(self, inner: OnnxEmbedder, events: list[str]) -> None:
        super().__init__(inner)
        self.events = events

    async def embed_spans(self, texts, spans):
        self.events.append("embed started")
        try:
            return await super().embed_spans(texts, spans)
        finally:
            self.events.append("embed ended")


async def test_the_next_batch_is_embedded_while_the_last_is_written(ingested, monkeypatch):
    pool, old = ingested
    events: list[str] = []
    new = Recorded(old, events)
    monkeypatch.setattr(reindex_module, "BATCH", 2)
    write = reindex_module.model_sql.stage

    async def slow_write(*args):
        events.append("write started")
        await asyncio.sleep(0.2)  # as a write does when it re-inserts rows into the old HNSW
        await write(*args)
        events.append("write ended")

    monkeypatch.setattr(reindex_module.model_sql, "stage", slow_write)
    assert await reindex(pool, new, lambda done, total: None) == len(DOCUMENTS)
    writes = [i for i, event in enumerate(events) if event == "write started"]
    assert len(writes) == len(DOCUMENTS) // 2, events
    # Every batch after the first was embedded during the write of the one before it.
    for started in writes[:-1]:
        ended = events.index("write ended", started)
        assert "embed started" in events[started:ended], events
    assert await top_source(Retriever(pool, new), "How do bees make honey?") == "bees.txt"


async def test_a_failed_write_stops_the_reindex_and_the_old_vectors_answer(ingested, monkeypatch):
    pool, old = ingested
    new = Projected(old)
    monkeypatch.setattr(reindex_module, "BATCH", 2)
    write = reindex_module.model_sql.stage
    calls = 0

    async def disk_full_on_second_write(*args):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise asyncpg.DiskFullError("could not extend file: No space left on device")
        await write(*args)

    monkeypatch.setattr(reindex_module.model_sql, "stage", disk_full_on_second_write)
    with pytest.raises(asyncpg.DiskFullError):
        await reindex(pool, new, lambda done, total: None)
    assert await top_source(Retriever(pool, old), "How do bees make honey?") == "bees.txt"
    async with pool.acquire() as conn:  # the first batch's vectors wait for the next run
        assert await conn.fetchval("SELECT count(embedding_next) FROM chunks") == 2
    monkeypatch.setattr(reindex_module.model_sql, "stage", write)
    resumed: list[tuple[int, int]] = []
    await reindex(pool, new, lambda done, total: resumed.append((done, total)))
    assert resumed[0] == (2, len(DOCUMENTS)) and resumed[-1][0] == len(DOCUMENTS)
    assert await top_source(Retriever(pool, new), "How do bees make honey?") == "bees.txt"
