"""The `ingest` job kind: turn an uploaded document into searchable chunks.

Two lanes, so a big document never holds small ones back: small documents are claimed many
at a time (they share the model's batches), big ones one at a time in a lane of their own
that runs alongside. The model is shared fairly: each embedding call is one group of chunks
and the embedder runs calls in turn, so a small batch waits at most one group of the big
document. Each batch's documents become ready when that batch is stored; a big document
reports progress (document events, stage names below) after each page and each group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import numpy as np

from app.db import chunks as chunk_sql
from app.db import documents as document_sql
from app.db import jobs as job_sql
from app.embedders import Embedder
from app.errors import IngestError
from app.ingest import sandbox
from app.ingest.chunk import OVERLAP_TOKENS, Chunk, chunk_text
from app.ingest.embed import embed_sorted
from app.ingest.sandbox import OCR, PARSING, Parsed
from app.jobs import Deps, Lane
from app.jobs.runner import Batch
from app.text.language import chunk_configs

log = logging.getLogger(__name__)

# Stage names of the progress events (static/stages.js maps them to words: keep them stable).
EMBEDDING, STORING = "embedding", "storing"
STAGES = (PARSING, OCR, EMBEDDING, STORING)

# Jobs claimed at once: enough one-chunk documents that sorting them by length leaves
# little padding in the model's batches, few enough that the model starts soon. Three
# batches run at once (one parsing, one embedding, one writing), so the model is fed while
# the others parse and COPY: 256 jobs in two lanes left it idle half the time (bench/ingest.py
# --limit 500 on 2 cores, load 3: 14.0 chunks/s; 64 in three: 30.5).
BATCH_JOBS = 64
# ...and at most this many bytes of files (one bigger file still goes alone): the batch's
# files are all in memory at once, and 256 files of 20 MB would be 5 GB.
BATCH_BYTES = 32 * 1024 * 1024
# Files from this size on go to the big lane, one at a time (a text file this big is some
# 50,000 words, a PDF some dozens of pages): a small batch never waits for their parse.
BIG_BYTES = 256 * 1024
# Chunks embedded per model call in a big document: progress every few seconds on a CPU, and
# a small batch waits for at most one such call (the model runs one call at a time).
BIG_GROUP = 32
# Characters of text a document may hold (some 10,000 pages): a 50 MB one-line text file
# made the chunker count tokens word by word for minutes.
MAX_TEXT_CHARS = 25_000_000
# Progress events of one document at most this often (a page is parsed in milliseconds).
PROGRESS_EVERY_SECONDS = 0.5


@dataclass
class _Prepared:
    job: asyncpg.Record
    document: asyncpg.Record
    parsed: Parsed
    chunks: list[Chunk]


class Ingest:
    name = "ingest"

    def __init__(self, deps: Deps) -> None:
        self.pool = deps.pool
        self.embedder = deps.embedder
        tuning = deps.tuning.get(self.name, {})
        self.overlap_tokens: int = tuning.get("overlap_tokens", OVERLAP_TOKENS)
        batch_jobs = tuning.get("batch_jobs", BATCH_JOBS)
        batch_bytes = tuning.get("batch_bytes", BATCH_BYTES)
        big = tuning.get("big_bytes", BIG_BYTES)
        self.lanes = (
            Lane("ingest", batch_jobs, batch_bytes, below_size=big, concurrency=3),
            Lane("ingest-big", 1, min_size=big),
        )
        # A parse may take this long (the sandbox's own bound) before it is deemed stuck.
        limits = sandbox.current_limits()
        self.parse_seconds = 2 * limits.timeout_seconds + 30

    async def ended(
        self, conn: asyncpg.Connection, job: asyncpg.Record, *, status: str, error: str
    ) -> None:
        if document_id := job["payload"].get("document_id"):
            await document_sql.set_status(conn, UUID(document_id), status, error=error)

    async def run(self, batch: Batch) -> None:
        prepared = await self._prepare(batch)
        if not prepared:
            return
        alone = prepared[0].document["id"] if len(batch.jobs) == 1 else None
        texts = [chunk.text for item in prepared for chunk in item.chunks]
        batch.expect(stage=EMBEDDING)

        async def progress(done: int, total: int) -> None:
            batch.expect(stage=EMBEDDING)
            if alone is not None:
                await self._notify(alone, EMBEDDING, done, total)

        try:
            vectors, sentences = await embed_sorted(
                self.embedder, texts, progress, group=BIG_GROUP if alone else 256
            )
        except Exception as exc:  # the model or its service: worth another try
            log.exception("embedding %d job(s) failed", len(prepared))
            for item in prepared:
                await batch.retry_or_fail(item.job, exc)
            return
        batch.expect(stage=STORING)
        if alone is not None:
            await self._notify(alone, STORING, 0, len(texts))
        await self._write_isolated(batch, prepared, vectors, sentences)

    async def _notify(self, document_id: UUID, stage: str, done: int, total: int) -> None:
        async with self.pool.acquire() as conn:
            await document_sql.notify_progress(
                conn, document_id, stage=stage, done=done, total=total
            )

    async def _prepare(self, batch: Batch) -> list[_Prepared]:
        """Load, parse and chunk each job's document; give up on the ones that cannot be read."""
        jobs = list(batch.jobs)
        ids = [UUID(job["payload"]["document_id"]) for job in jobs]
        batch.expect(stage=PARSING)
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await document_sql.set_processing(conn, ids)
                rows = {row["id"]: row for row in await document_sql.get_documents(conn, ids)}
        except Exception as exc:
            for job in jobs:
                await batch.retry_or_fail(job, exc)
            return []
        prepared: list[_Prepared] = []
        for job, document_id in zip(jobs, ids, strict=True):
            document = rows.get(document_id)
            batch.expect(max(self.parse_seconds, batch.runner.stall_seconds), PARSING)
            try:
                if document is None:  # deleted while queued: nothing to do
                    async with self.pool.acquire() as conn:
                        await job_sql.finish(conn, job["id"], job["attempts"])
                    batch.ended(job)
                    continue
                # One stored file in memory at a time, read back from Postgres in its parts.
                async with self.pool.acquire() as conn:
                    content = await document_sql.read_file(conn, document_id)
                if content is None:
                    raise IngestError("the uploaded file is missing")
                pages = self._page_progress(batch, document_id) if len(jobs) == 1 else None
                parsed, chunks = await asyncio.to_thread(self._split, document, content, pages)
                if not chunks:
                    raise IngestError("the document has no text to index")
                prepared.append(_Prepared(job, document, parsed, chunks))
            except IngestError as exc:
                await batch.give_up(job, str(exc))
            except Exception as exc:
                log.exception("job %s failed (attempt %s)", job["id"], job["attempts"])
                await batch.retry_or_fail(job, exc)
        return prepared

    def _page_progress(self, batch: Batch, document_id: UUID) -> sandbox.Progress:
        """A callback for the parser's thread: each page parsed moves the deadline and
        tells the document's watchers: every page OCR reads (each takes a while), pages
        parsed twice a second at most (their first and last always)."""
        loop = asyncio.get_running_loop()
        last: dict[str, float] = {}  # by stage

        def pages(stage: str, done: int, total: int) -> None:
            loop.call_soon_threadsafe(batch.expect, None, stage)
            now = time.monotonic()
            if (
                stage == OCR
                or done in (1, total)
                or now - last.get(stage, 0.0) >= PROGRESS_EVERY_SECONDS
            ):
                last[stage] = now
                asyncio.run_coroutine_threadsafe(
                    self._notify_quietly(document_id, stage, done, total), loop
                )

        return pages

    async def _notify_quietly(self, document_id: UUID, stage: str, done: int, total: int) -> None:
        try:
            await self._notify(document_id, stage, done, total)
        except Exception as exc:  # progress is a courtesy: the parse goes on
            log.debug("progress of document %s not sent: %s", document_id, exc)

    def _split(
        self, document: asyncpg.Record, content: bytes, pages: sandbox.Progress | None
    ) -> tuple[Parsed, list[Chunk]]:
        """Parse and chunk (CPU work for big files, so it runs off the event loop)."""
        return split(
            content,
            document["media_type"],
            document["source"],
            self.embedder,
            overlap_tokens=self.overlap_tokens,
            progress=pages,
        )

    async def _write_isolated(
        self,
        batch: Batch,
        prepared: list[_Prepared],
        vectors: np.ndarray,
        sentences: list[bytes | None],
    ) -> None:
        """Write the batch in one transaction; if that fails, each document on its own.

        One document must not fail its whole batch: the others are written without it and
        only the one that fails again is retried (or failed) with its own error.
        """
        try:
            await self._write(batch, prepared, vectors, sentences)
            return
        except Exception as exc:  # the database: worth another try
            if len(prepared) == 1:
                log.exception("storing job %s failed", prepared[0].job["id"])
                await batch.retry_or_fail(prepared[0].job, exc)
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
            batch.expect(stage=STORING)
            try:
                await self._write(batch, [item], vectors[start:end], sentences[start:end])
            except asyncpg.DataError as exc:  # e.g. a NUL character: the same every time
                await batch.give_up(
                    item.job,
                    "its text holds characters the database cannot store (such as NUL)",
                    f"{type(exc).__name__}: {exc}",
                )
            except Exception as exc:
                log.exception("storing job %s failed", item.job["id"])
                await batch.retry_or_fail(item.job, exc)
            start = end

    async def _write(
        self,
        batch: Batch,
        prepared: list[_Prepared],
        vectors: np.ndarray,
        sentences: list[bytes | None],
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
                        new = new_chunk(ordinal, chunk, vector, sentence_vectors, language)
                        rows.append((item.document["id"], new))
            ids = [p.document["id"] for p in kept]
            await chunk_sql.delete_for_documents(conn, ids)
            await chunk_sql.copy_chunks(conn, rows)
            await document_sql.set_ready(
                conn, ids, [len(p.chunks) for p in kept], [p.parsed.title for p in kept]
            )
        for item in prepared:
            batch.ended(item.job)
            if item.document["id"] not in present:
                log.info("document %s was deleted while it was ingested", item.document["id"])
            elif item.job["id"] not in held:
                log.warning("job %s was taken over by another worker; dropped", item.job["id"])
        log.info("%d document(s) ready: %d chunks", len(kept), len(rows))


def split(
    content: bytes,
    media_type: str,
    source: str,
    embedder: Embedder,
    *,
    overlap_tokens: int,
    progress: sandbox.Progress | None = None,
    anchored: bool = False,
) -> tuple[Parsed, list[Chunk]]:
    """Parse a file in the sandbox and chunk its text, for every job kind that ingests;
    IngestError when it cannot be read or holds too much text."""
    parsed = sandbox.parse(content, media_type, source, progress)
    if len(parsed.text) > MAX_TEXT_CHARS:
        raise IngestError(
            f"{source!r} holds {len(parsed.text):,} characters of text, more "
            f"than the {MAX_TEXT_CHARS:,} a document may have; split it into parts"
        )
    return parsed, chunks_of(parsed, embedder, overlap_tokens=overlap_tokens, anchored=anchored)


def chunks_of(
    parsed: Parsed, embedder: Embedder, *, overlap_tokens: int, anchored: bool
) -> list[Chunk]:
    return chunk_text(
        parsed.text,
        embedder.count_tokens,
        embedder.max_tokens,
        markdown=parsed.markdown,
        page_starts=parsed.page_starts,
        overlap_tokens=overlap_tokens,
        ocr_pages=parsed.ocr_pages,
        anchored=anchored,
    )


def new_chunk(
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
