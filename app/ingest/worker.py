"""The ingestion worker: claims jobs from Postgres and turns documents into searchable chunks.

Jobs are claimed a few at a time so that many small documents share one model batch; each
document is still all-or-nothing, and every job is fenced by the attempt that claimed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import numpy as np

from app.db import chunks as chunk_sql
from app.db import documents as document_sql
from app.db import jobs as job_sql
from app.embedders import Embedder
from app.errors import AppError
from app.ingest.chunk import Chunk, chunk_text
from app.ingest.embed import embed_sorted
from app.ingest.formats import Parsed, parse
from app.ingest.parse import IngestError
from app.text.language import chunk_configs

log = logging.getLogger(__name__)

# Tokens a chunk repeats from the one before it, when a section is split mid-paragraph.
OVERLAP_TOKENS = 32
# Jobs claimed at once: enough one-chunk documents that sorting them by length leaves
# little padding in the model's batches.
BATCH_JOBS = 256


@dataclass
class _Prepared:
    job: asyncpg.Record
    document: asyncpg.Record
    parsed: Parsed
    chunks: list[Chunk]


@dataclass
class _Batch:
    prepared: list[_Prepared]  # the claimed jobs that parsed; the others have already ended
    heartbeat: asyncio.Task[None]


_Embedded = tuple[np.ndarray, list[bytes | None]]  # chunk vectors, sentence vectors


class Worker:
    """Runs ingestion jobs until stopped; any number of these may share one database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        embedder: Embedder,
        *,
        lock_seconds: float = 60,
        poll_seconds: float = 5,
        retry_base_seconds: float = 5,
        overlap_tokens: int = OVERLAP_TOKENS,
        batch_jobs: int = BATCH_JOBS,
    ) -> None:
        self.pool = pool
        self.embedder = embedder
        self.lock_seconds = lock_seconds
        self.poll_seconds = poll_seconds
        self.retry_base_seconds = retry_base_seconds
        self.overlap_tokens = overlap_tokens
        self.batch_jobs = batch_jobs
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        # Heartbeats of the batches claimed and not yet stored (stopped when run() ends too).
        self._heartbeats: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Claim and run jobs; sleep until NOTIFY jobs (or the poll interval) when idle.

        Three stages overlap so the model never waits: while one batch is embedded, the
        next is claimed and parsed and the one before is written to the database.
        """
        claiming: asyncio.Task[_Batch | None] | None = None
        storing: asyncio.Task[None] | None = None
        async with self.pool.acquire() as listener:
            await listener.add_listener(job_sql.CHANNEL, self._on_notify)
            try:
                claiming = asyncio.create_task(self._claim())
                while True:
                    batch = await claiming
                    if batch is None:
                        if storing is not None:
                            await storing
                            storing = None
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                        self._wake.clear()
                        claiming = asyncio.create_task(self._claim())
                        continue
                    claiming = asyncio.create_task(self._claim())
                    embedded = await self._embed(batch)
                    if storing is not None:
                        await storing
                    storing = asyncio.create_task(self._store(batch, embedded))
            finally:
                for task in (claiming, storing):
                    if task is not None:
                        await _cancel(task)
                # A batch claimed or embedded but not stored: its jobs' locks now expire.
                for heartbeat in list(self._heartbeats):
                    await self._stop(heartbeat)
                await listener.remove_listener(job_sql.CHANNEL, self._on_notify)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _claim(self) -> _Batch | None:
        """Claim the jobs that are ready (up to batch_jobs) and parse their documents."""
        async with self.pool.acquire() as conn:
            jobs = await job_sql.claim_many(
                conn, lock_seconds=self.lock_seconds, worker=self.name, limit=self.batch_jobs
            )
        if not jobs:
            return None
        heartbeat = asyncio.create_task(self._heartbeat(jobs))
        self._heartbeats.add(heartbeat)
        try:
            return _Batch(await self._prepare(jobs), heartbeat)
        except BaseException:
            await self._stop(heartbeat)
            raise

    async def _embed(self, batch: _Batch) -> _Embedded | None:
        """The batch's chunk and sentence vectors; None (jobs retried) if the model failed."""
        texts = [chunk.text for item in batch.prepared for chunk in item.chunks]
        if not texts:
            return None
        progress = None
        if len(batch.prepared) == 1:  # a big document alone: worth live progress
            document_id = batch.prepared[0].document["id"]

            async def progress(done: int, total: int) -> None:
                async with self.pool.acquire() as conn:
                    await document_sql.notify_progress(
                        conn, document_id, stage="embedding", done=done, total=total
                    )

        try:
            return await embed_sorted(self.embedder, texts, progress)
        except Exception as exc:  # the model or its service: worth another try
            log.exception("embedding %d job(s) failed", len(batch.prepared))
            await self._retry_all(batch, exc)
            return None

    async def _store(self, batch: _Batch, embedded: _Embedded | None) -> None:
        """Write the batch's chunks (one transaction), then stop its heartbeat."""
        try:
            if embedded is not None:
                try:
                    await self._write(batch.prepared, *embedded)
                except Exception as exc:  # the database: worth another try
                    log.exception("storing %d job(s) failed", len(batch.prepared))
                    await self._retry_all(batch, exc)
        finally:
            await self._stop(batch.heartbeat)

    async def _stop(self, heartbeat: asyncio.Task[None]) -> None:
        self._heartbeats.discard(heartbeat)
        await _cancel(heartbeat)

    async def _retry_all(self, batch: _Batch, exc: Exception) -> None:
        for item in batch.prepared:
            await self._retry_or_fail(item.job, exc)

    async def _heartbeat(self, jobs: list[asyncpg.Record]) -> None:
        """Keep extending the jobs' locks while they run, so long work is not reclaimed."""
        ids = [job["id"] for job in jobs]
        attempts = [job["attempts"] for job in jobs]
        while True:
            await asyncio.sleep(self.lock_seconds / 3)
            try:
                async with self.pool.acquire() as conn:
                    if not await job_sql.extend_locks(conn, ids, attempts, self.lock_seconds):
                        return
            except (OSError, asyncpg.PostgresError):
                log.warning("could not extend the locks of jobs %s; will try again", ids)

    async def _prepare(self, jobs: list[asyncpg.Record]) -> list[_Prepared]:
        """Load, parse and chunk each job's document; give up on the ones that cannot be read."""
        ingest = [job for job in jobs if job["kind"] == "ingest"]
        for job in jobs:
            if job["kind"] != "ingest":
                await self._give_up(job, f"unknown job kind {job['kind']!r}")
        ids = [UUID(job["payload"]["document_id"]) for job in ingest]
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await document_sql.set_processing(conn, ids)
                rows = {row["id"]: row for row in await document_sql.get_with_files(conn, ids)}
        except Exception as exc:
            for job in ingest:
                await self._retry_or_fail(job, exc)
            return []
        prepared: list[_Prepared] = []
        for job, document_id in zip(ingest, ids, strict=True):
            document = rows.get(document_id)
            try:
                if document is None:  # deleted while queued: nothing to do
                    async with self.pool.acquire() as conn:
                        await job_sql.finish(conn, job["id"], job["attempts"])
                    continue
                if document["content"] is None:
                    raise IngestError("the uploaded file is missing")
                parsed, chunks = await asyncio.to_thread(self._split, document)
                if not chunks:
                    raise IngestError("the document has no text to index")
                prepared.append(_Prepared(job, document, parsed, chunks))
            except (IngestError, AppError) as exc:
                await self._give_up(job, str(exc))
            except Exception as exc:
                log.exception("job %s failed (attempt %s)", job["id"], job["attempts"])
                await self._retry_or_fail(job, exc)
        return prepared

    def _split(self, document: asyncpg.Record) -> tuple[Parsed, list[Chunk]]:
        """Parse and chunk (CPU work for big files, so it runs off the event loop)."""
        parsed = parse(document["content"], document["media_type"], document["source"])
        chunks = chunk_text(
            parsed.text,
            self.embedder.count_tokens,
            self.embedder.max_tokens,
            markdown=parsed.markdown,
            page_starts=parsed.page_starts,
            overlap_tokens=self.overlap_tokens,
        )
        return parsed, chunks

    async def _write(
        self, prepared: list[_Prepared], vectors: np.ndarray, sentences: list[bytes | None]
    ) -> None:
        # Each chunk is indexed in its own language (off the event loop: the detector's
        # first use loads its model).
        languages = iter(
            await asyncio.to_thread(
                lambda: [
                    language
                    for p in prepared
                    for language in chunk_configs([c.text for c in p.chunks])
                ]
            )
        )
        # Each document's chunks, its status and its job's end commit together, fenced by
        # the attempt: a crash before the commit leaves nothing searchable, and a worker
        # whose lock was taken over writes nothing.
        async with self.pool.acquire() as conn, conn.transaction():
            held = await job_sql.finish_many(
                conn, [p.job["id"] for p in prepared], [p.job["attempts"] for p in prepared]
            )
            kept = [p for p in prepared if p.job["id"] in held]
            rows: list[tuple[UUID, chunk_sql.NewChunk]] = []
            flat = iter(zip(vectors, sentences, strict=True))
            for item in prepared:
                for ordinal, chunk in enumerate(item.chunks):
                    vector, sentence_vectors = next(flat)
                    language = next(languages)
                    if item.job["id"] in held:
                        new = _new_chunk(ordinal, chunk, vector, sentence_vectors, language)
                        rows.append((item.document["id"], new))
            ids = [p.document["id"] for p in kept]
            await chunk_sql.delete_for_documents(conn, ids)
            await chunk_sql.copy_chunks(conn, rows)
            await document_sql.set_ready(
                conn, ids, [len(p.chunks) for p in kept], [p.parsed.title for p in kept]
            )
        for item in prepared:
            if item.job["id"] not in held:
                log.warning("job %s was taken over by another worker; dropped", item.job["id"])
        log.info("%d document(s) ready: %d chunks", len(kept), len(rows))

    async def _retry_or_fail(self, job: asyncpg.Record, exc: Exception) -> None:
        if job["attempts"] >= job["max_attempts"]:
            await self._give_up(job, f"{type(exc).__name__}: {exc}")
            return
        delay = self.retry_base_seconds * 2 ** (job["attempts"] - 1)
        async with self.pool.acquire() as conn, conn.transaction():
            if await job_sql.retry_later(conn, job["id"], str(exc), delay, job["attempts"]):
                await document_sql.set_status(
                    conn, UUID(job["payload"]["document_id"]), "queued", error=str(exc)
                )

    async def _give_up(self, job: asyncpg.Record, error: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if not await job_sql.fail(conn, job["id"], error, job["attempts"]):
                return
            document_id = job["payload"].get("document_id")
            if document_id:
                await document_sql.set_status(conn, UUID(document_id), "failed", error=error)


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _new_chunk(
    ordinal: int,
    chunk: Chunk,
    vector: np.ndarray,
    sentence_vectors: bytes | None,
    language: str = "english",
) -> chunk_sql.NewChunk:
    return chunk_sql.NewChunk(
        ordinal=ordinal,
        text=chunk.text,
        heading_path=chunk.heading_path,
        page=chunk.page,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
        token_count=chunk.token_count,
        embedding=vector,
        sentence_vectors=sentence_vectors,
        language=language,
    )
