"""Regression tests: one document could fail (or hold in memory) its whole batch."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.db import jobs as job_sql
from app.db.pool import create_pool
from app.embedders.local import LocalEmbedder
from app.jobs.worker import Worker
from tests.helpers import submit

TEXT = "Solar panels convert sunlight into electricity. Document number {n} says so."


@pytest.fixture
async def pool(settings):
    pool = await create_pool(settings.database_url, max_size=6)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def embedder():
    embedder = await LocalEmbedder.load(None)
    yield embedder
    await embedder.close()


async def _submit(pool, documents: dict[str, bytes]) -> dict[str, object]:
    ids = {}
    async with pool.acquire() as conn, conn.transaction():
        for name, data in documents.items():
            done = await submit(conn, data=data, source=name, media_type="text/plain", title=name)
            ids[name] = done.document["id"]
    return ids


async def _until(pool, sql: str, expected, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while True:
        async with pool.acquire() as conn:
            value = await conn.fetchval(sql)
        if value == expected:
            return
        assert time.monotonic() < deadline, f"{sql} is {value!r}, not {expected!r}"
        await asyncio.sleep(0.05)


async def _run_until_settled(worker: Worker, pool, count: int) -> None:
    running = asyncio.create_task(worker.run())
    try:
        await _until(
            pool, "SELECT count(*) FROM documents WHERE status IN ('ready', 'failed')", count
        )
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


class _DeletingEmbedder:
    """The real model; the first time it is asked, a document of the batch is deleted."""

    def __init__(self, inner, pool, document_id) -> None:
        self._inner, self._pool, self._victim = inner, pool, document_id

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def embed_spans(self, texts, spans):
        if self._victim is not None:
            async with self._pool.acquire() as conn:
                await conn.execute("DELETE FROM documents WHERE id = $1", self._victim)
            self._victim = None
        return await self._inner.embed_spans(texts, spans)


async def test_a_document_deleted_while_its_batch_is_embedded_fails_no_other(pool, embedder):
    # Its chunks' COPY failed ("null value in column collection_id") and took the other
    # documents of the batch down with it.
    ids = await _submit(pool, {f"{n}.txt": TEXT.format(n=n).encode() for n in range(5)})
    deleting = _DeletingEmbedder(embedder, pool, ids["2.txt"])
    worker = Worker(pool, deleting, retry_base_seconds=600)  # type: ignore[arg-type]
    await _run_until_settled(worker, pool, 4)
    async with pool.acquire() as conn:
        documents = await conn.fetch("SELECT status, error FROM documents")
        jobs = await conn.fetch("SELECT status, attempts FROM jobs")
    assert [(d["status"], d["error"]) for d in documents] == [("ready", None)] * 4
    assert [(j["status"], j["attempts"]) for j in jobs] == [("done", 1)] * 5


async def test_a_document_whose_text_cannot_be_stored_fails_alone(pool, embedder):
    # Postgres text cannot hold NUL; the check at upload reads only the first 8 kB.
    poison = b"x" * 9000 + b"\x00 and more"
    ids = await _submit(
        pool, {"poison.txt": poison, **{f"{n}.txt": TEXT.format(n=n).encode() for n in range(3)}}
    )
    worker = Worker(pool, embedder, retry_base_seconds=600)
    await _run_until_settled(worker, pool, 4)
    async with pool.acquire() as conn:
        rows = {
            r["id"]: r
            for r in await conn.fetch(
                "SELECT d.id, d.status, d.error, j.attempts FROM documents d"
                " JOIN jobs j ON j.payload->>'document_id' = d.id::text"
            )
        }
    poisoned = rows.pop(ids["poison.txt"])
    assert poisoned["status"] == "failed" and "such as NUL" in poisoned["error"]
    assert poisoned["attempts"] == 1  # the same every time: not retried
    assert [(r["status"], r["attempts"]) for r in rows.values()] == [("ready", 1)] * 3


async def test_a_batch_is_bounded_by_the_bytes_of_its_files(pool):
    # 256 files of 20 MB were claimed, and loaded into the worker's memory, at once.
    big = b"word " * 80_000  # 400 kB
    await _submit(pool, {f"{n}.txt": big + str(n).encode() for n in range(3)})
    async with pool.acquire() as conn:
        first = await job_sql.claim_many(
            conn, lock_seconds=60, worker="w", limit=256, max_bytes=1024 * 1024
        )
        assert len(first) == 2
        # A file bigger than the bound still goes, alone.
        alone = await job_sql.claim_many(
            conn, lock_seconds=60, worker="w", limit=256, max_bytes=1000
        )
        assert len(alone) == 1
