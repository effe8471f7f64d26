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
from functools import partial
from typing import Any
from uuid import UUID

import asyncpg
import numpy as np

from app.db import chunks as chunk_sql
from app.db import documents as document_sql
from app.db import jobs as job_sql
from app.embedders import Embedder
from app.errors import AppError, IngestError
from app.ingest.chunk import Chunk, chunk_text
from app.ingest.embed import embed_sorted
from app.ingest.sandbox import Parsed, Progress, parse
from app.text.language import chunk_configs

log = logging.getLogger(__name__)

# Tokens a chunk repeats from the one before it, when a section is split mid-paragraph.
OVERLAP_TOKENS = 32
# Jobs claimed at once: enough one-chunk documents that sorting them by length leaves
# little padding in the model's batches.
BATCH_JOBS = 256
# ...and at most this many bytes of files (one bigger file still goes alone): the batch's
# files are all in memory at once, and 256 files of 20 MB would be 5 GB.
BATCH_BYTES = 32 * 1024 * 1024
# Characters of text a document may hold (some 10,000 pages): a 50 MB one-line text file
# made the chunker count tokens word by word for minutes.
MAX_TEXT_CHARS = 25_000_000
# Waits between attempts to start over after a failure (a database outage, mostly).
RETRY_MIN_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
_OUTAGE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,  # the server is shutting down or starting
)


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
        batch_bytes: int = BATCH_BYTES,
    ) -> None:
        self.pool = pool
        self.embedder = embedder
        self.lock_seconds = lock_seconds
        self.poll_seconds = poll_seconds
        self.retry_base_seconds = retry_base_seconds
        self.overlap_tokens = overlap_tokens
        self.batch_jobs = batch_jobs
        self.batch_bytes = batch_bytes
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        # Heartbeats of the batches claimed and not yet stored (stopped when run() ends too),
        # with those batches' jobs.
        self._heartbeats: dict[asyncio.Task[None], list[asyncpg.Record]] = {}
        # Jobs (id, attempt) of batches a failed cycle dropped: queued again by the next cycle
        # rather than left locked for lock_seconds after the database comes back.
        self._abandoned: list[tuple[int, int]] = []
        self.problem: str | None = None  # why the last cycle failed, until one succeeds
        self.failures = 0

    async def run(self) -> None:
        """Run jobs until cancelled, riding out database outages (and any other failure).

        A failure ends the current cycle: the jobs of its batches are queued again (attempt
        counted) by the next cycle, as soon as the database answers, or else claimed again by
        any worker when their locks expire. The worker waits (0.5 s doubling to 30 s) and
        starts over; `problem` says what is wrong meanwhile.
        """
        delay = RETRY_MIN_SECONDS
        while True:
            started = asyncio.get_running_loop().time()
            try:
                await self._run_once()
            except Exception as exc:
                self.failures += 1
                self.problem = f"{type(exc).__name__}: {exc}"
                if asyncio.get_running_loop().time() - started > RETRY_MAX_SECONDS:
                    delay = RETRY_MIN_SECONDS  # it ran fine for a while: a new outage
                log.warning(
                    "worker cycle failed (%s); starting over in %.1f s",
                    self.problem,
                    delay,
                    exc_info=not isinstance(exc, _OUTAGE),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _run_once(self) -> None:
        """Claim and run jobs; sleep until NOTIFY jobs (or the poll interval) when idle.

        Three stages overlap so the model never waits: while one batch is embedded, the
        next is claimed and parsed and the one before is written to the database.
        """
        claiming: asyncio.Task[_Batch | None] | None = None
        storing: asyncio.Task[None] | None = None
        async with self.pool.acquire() as listener:
            await self._requeue_abandoned(listener)
            await listener.add_listener(job_sql.CHANNEL, self._on_notify)
            try:
                claiming = asyncio.create_task(self._claim())
                while True:
                    batch = await claiming
                    if self.problem is not None:
                        log.info("worker running again after: %s", self.problem)
                        self.problem = None
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
                # A batch claimed or embedded but not stored: the next cycle queues its jobs.
                for heartbeat in list(self._heartbeats):
                    await self._abandon(heartbeat)
                with contextlib.suppress(Exception):  # the connection may be gone
                    await listener.remove_listener(job_sql.CHANNEL, self._on_notify)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _claim(self) -> _Batch | None:
        """Claim the jobs that are ready (up to batch_jobs) and parse their documents."""
        async with self.pool.acquire() as conn:
            await self._fail_abandoned(conn)
            jobs = await job_sql.claim_many(
                conn,
                lock_seconds=self.lock_seconds,
                worker=self.name,
                limit=self.batch_jobs,
                max_bytes=self.batch_bytes,
            )
        if not jobs:
            return None
        heartbeat = asyncio.create_task(self._heartbeat(jobs))
        self._heartbeats[heartbeat] = jobs
        try:
            return _Batch(await self._prepare(jobs), heartbeat)
        except BaseException:
            await self._abandon(heartbeat)
            raise

    async def _requeue_abandoned(self, conn: asyncpg.Connection) -> None:
        """Queue again the jobs of the batches the last cycle dropped (an outage, mostly):
        their documents are ingested once the database is back, not lock_seconds later."""
        if self._abandoned:
            ids, attempts = (list(column) for column in zip(*self._abandoned, strict=True))
            queued = await job_sql.requeue(conn, ids, attempts)
            log.info("queued again %d job(s) a failed cycle had claimed", queued)
            self._abandoned = []

    async def _fail_abandoned(self, conn: asyncpg.Connection) -> None:
        """Fail, with their documents, the jobs that took their worker down every time."""
        async with conn.transaction():
            for job in await job_sql.fail_abandoned(conn):
                log.error("job %s failed: %s", job["id"], job["last_error"])
                document_id = job["payload"].get("document_id")
                if document_id:
                    await document_sql.set_status(
                        conn, UUID(document_id), "failed", error=job["last_error"]
                    )

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
                await self._write_isolated(batch.prepared, *embedded)
        except BaseException:
            # Even the retry could not be recorded (the database went away): the next cycle
            # queues the jobs again (those already stored are left alone).
            await self._abandon(batch.heartbeat)
            raise
        await self._stop(batch.heartbeat)

    async def _write_isolated(
        self, prepared: list[_Prepared], vectors: np.ndarray, sentences: list[bytes | None]
    ) -> None:
        """Write the batch in one transaction; if that fails, each document on its own.

        One document must not fail its whole batch: the others are written without it and
        only the one that fails again is retried (or failed) with its own error.
        """
        try:
            await self._write(prepared, vectors, sentences)
            return
        except Exception as exc:  # the database: worth another try
            if len(prepared) == 1:
                log.exception("storing job %s failed", prepared[0].job["id"])
                await self._retry_or_fail(prepared[0].job, exc)
                return
            log.warning(
                "storing %d documents together failed (%s: %s); storing each on its own",
                len(prepared),
                type(exc).__name__,
                exc,
            )
        start = 0
        for item in prepared:
            end = start + len(item.chunks)
            try:
                await self._write([item], vectors[start:end], sentences[start:end])
            except asyncpg.DataError as exc:  # e.g. a NUL character: the same every time
                await self._give_up(
                    item.job,
                    "its text holds characters the database cannot store (such as NUL)",
                    f"{type(exc).__name__}: {exc}",
                )
            except Exception as exc:
                log.exception("storing job %s failed", item.job["id"])
                await self._retry_or_fail(item.job, exc)
            start = end

    async def _stop(self, heartbeat: asyncio.Task[None]) -> None:
        self._heartbeats.pop(heartbeat, None)
        await _cancel(heartbeat)

    async def _abandon(self, heartbeat: asyncio.Task[None]) -> None:
        """Stop the batch's heartbeat and remember its jobs for the next cycle to queue."""
        jobs = self._heartbeats.get(heartbeat, [])
        self._abandoned.extend((job["id"], job["attempts"]) for job in jobs)
        await self._stop(heartbeat)

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
            except Exception:  # an outage: the next beat tries again
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
                rows = {row["id"]: row for row in await document_sql.get_documents(conn, ids)}
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
                # One stored file in memory at a time, read back from Postgres in its parts.
                async with self.pool.acquire() as conn:
                    content = await document_sql.read_file(conn, document_id)
                if content is None:
                    raise IngestError("the uploaded file is missing")
                pages = partial(self._pages_recognised, asyncio.get_running_loop(), document_id)
                parsed, chunks = await asyncio.to_thread(self._split, document, content, pages)
                if not chunks:
                    raise IngestError("the document has no text to index")
                prepared.append(_Prepared(job, document, parsed, chunks))
            except IngestError as exc:
                await self._give_up(job, str(exc))
            except Exception as exc:
                log.exception("job %s failed (attempt %s)", job["id"], job["attempts"])
                await self._retry_or_fail(job, exc)
        return prepared

    def _pages_recognised(
        self, loop: asyncio.AbstractEventLoop, document_id: UUID, done: int, total: int
    ) -> None:
        """From the parsing thread: OCR has read `done` of `total` pages (stage "ocr")."""

        async def notify() -> None:
            async with self.pool.acquire() as conn:
                await document_sql.notify_progress(
                    conn, document_id, stage="ocr", done=done, total=total
                )

        asyncio.run_coroutine_threadsafe(notify(), loop)

    def _split(
        self, document: asyncpg.Record, content: bytes, progress: Progress | None = None
    ) -> tuple[Parsed, list[Chunk]]:
        """Parse and chunk (CPU work for big files, so it runs off the event loop)."""
        parsed = parse(content, document["media_type"], document["source"], progress)
        if len(parsed.text) > MAX_TEXT_CHARS:
            raise IngestError(
                f"{document['source']!r} holds {len(parsed.text):,} characters of text, more "
                f"than the {MAX_TEXT_CHARS:,} a document may have; split it into parts"
            )
        chunks = chunk_text(
            parsed.text,
            self.embedder.count_tokens,
            self.embedder.max_tokens,
            markdown=parsed.markdown,
            page_starts=parsed.page_starts,
            overlap_tokens=self.overlap_tokens,
            ocr_pages=parsed.ocr_pages,
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
            # Documents deleted since they were claimed get no chunks (their chunks' COPY
            # failed the whole batch); FOR SHARE holds off a delete until this commits.
            present = await document_sql.lock_present(conn, [p.document["id"] for p in prepared])
            held = {p.job["id"] for p in prepared if p.job["id"] in held}
            held &= {p.job["id"] for p in prepared if p.document["id"] in present}
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
            if item.document["id"] not in present:
                log.info("document %s was deleted while it was ingested", item.document["id"])
            elif item.job["id"] not in held:
                log.warning("job %s was taken over by another worker; dropped", item.job["id"])
        log.info("%d document(s) ready: %d chunks", len(kept), len(rows))

    async def _retry_or_fail(self, job: asyncpg.Record, exc: Exception) -> None:
        # The document's error is read by its uploader: what happened, not our exception
        # text (addresses, SQL, paths); the job's last_error keeps the detail for operators.
        detail = f"{type(exc).__name__}: {exc}"
        if job["attempts"] >= job["max_attempts"]:
            await self._give_up(job, _public_error(exc, job, final=True), detail)
            return
        delay = self.retry_base_seconds * 2 ** (job["attempts"] - 1)
        async with self.pool.acquire() as conn, conn.transaction():
            if await job_sql.retry_later(conn, job["id"], detail, delay, job["attempts"]):
                await document_sql.set_status(
                    conn,
                    UUID(job["payload"]["document_id"]),
                    "queued",
                    error=_public_error(exc, job, final=False),
                )

    async def _give_up(self, job: asyncpg.Record, error: str, detail: str | None = None) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if not await job_sql.fail(conn, job["id"], detail or error, job["attempts"]):
                return
            document_id = job["payload"].get("document_id")
            if document_id:
                await document_sql.set_status(conn, UUID(document_id), "failed", error=error)


def _public_error(exc: Exception, job: asyncpg.Record, *, final: bool) -> str:
    """What a document's uploader reads about a failed attempt."""
    if isinstance(exc, AppError):  # written for people: e.g. the embedding service is down
        what = exc.message
    else:
        what = f"processing failed on the server (job {job['id']}; the server log has why)"
    tries = f"attempt {job['attempts']} of {job['max_attempts']}"
    if final:
        return f"{what}; {tries}, it will not be tried again: upload it again to retry"
    return f"{what}; {tries}, it will be tried again"


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
        ocr_confidence=chunk.ocr_confidence,
    )
