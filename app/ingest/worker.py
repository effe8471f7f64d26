"""The ingestion worker: claims jobs from Postgres and turns documents into searchable chunks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any
from uuid import UUID

import asyncpg

from app.db import chunks as chunk_sql
from app.db import documents as document_sql
from app.db import jobs as job_sql
from app.errors import AppError
from app.ingest.chunk import Chunk, chunk_text
from app.ingest.embed import embed_sorted
from app.ingest.formats import Parsed, parse
from app.ingest.parse import IngestError
from app.rag.embedders import Embedder

log = logging.getLogger(__name__)

# Tokens a chunk repeats from the one before it, when a section is split mid-paragraph.
OVERLAP_TOKENS = 32


class LostLock(Exception):
    """Another worker took the job over (this one was too slow to extend its lock)."""


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
    ) -> None:
        self.pool = pool
        self.embedder = embedder
        self.lock_seconds = lock_seconds
        self.poll_seconds = poll_seconds
        self.retry_base_seconds = retry_base_seconds
        self.overlap_tokens = overlap_tokens
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Claim and run jobs; sleep until NOTIFY jobs (or the poll interval) when idle."""
        async with self.pool.acquire() as listener:
            await listener.add_listener(job_sql.CHANNEL, self._on_notify)
            try:
                while True:
                    if await self.run_once():
                        continue
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                    self._wake.clear()
            finally:
                await listener.remove_listener(job_sql.CHANNEL, self._on_notify)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def run_once(self) -> bool:
        """Run one job if one is ready; return whether there was one."""
        async with self.pool.acquire() as conn:
            job = await job_sql.claim(conn, lock_seconds=self.lock_seconds, worker=self.name)
        if job is None:
            return False
        heartbeat = asyncio.create_task(self._heartbeat(job["id"], job["attempts"]))
        try:
            if job["kind"] != "ingest":
                raise IngestError(f"unknown job kind {job['kind']!r}")
            await self._ingest(job, UUID(job["payload"]["document_id"]))
        except LostLock:
            log.warning("job %s was taken over by another worker; dropping it", job["id"])
        except (IngestError, AppError) as exc:
            await self._give_up(job, str(exc))
        except Exception as exc:
            log.exception("job %s failed (attempt %s)", job["id"], job["attempts"])
            if job["attempts"] >= job["max_attempts"]:
                await self._give_up(job, f"{type(exc).__name__}: {exc}")
            else:
                delay = self.retry_base_seconds * 2 ** (job["attempts"] - 1)
                async with self.pool.acquire() as conn, conn.transaction():
                    if await job_sql.retry_later(conn, job["id"], str(exc), delay, job["attempts"]):
                        await document_sql.set_status(
                            conn, UUID(job["payload"]["document_id"]), "queued", error=str(exc)
                        )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return True

    async def _heartbeat(self, job_id: int, attempt: int) -> None:
        """Keep extending the job's lock while it runs, so a long document is not reclaimed."""
        while True:
            await asyncio.sleep(self.lock_seconds / 3)
            try:
                async with self.pool.acquire() as conn:
                    if not await job_sql.extend_lock(conn, job_id, attempt, self.lock_seconds):
                        return
            except (OSError, asyncpg.PostgresError):
                log.warning("could not extend the lock of job %s; will try again", job_id)

    async def _give_up(self, job: asyncpg.Record, error: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if not await job_sql.fail(conn, job["id"], error, job["attempts"]):
                return
            document_id = job["payload"].get("document_id")
            if document_id:
                await document_sql.set_status(conn, UUID(document_id), "failed", error=error)

    def _split(self, data: bytes, document: asyncpg.Record) -> tuple[Parsed, list[Chunk]]:
        """Parse and chunk (CPU work for big files, so it runs off the event loop)."""
        parsed = parse(data, document["media_type"], document["source"])
        chunks = chunk_text(
            parsed.text,
            self.embedder.count_tokens,
            self.embedder.max_tokens,
            markdown=parsed.markdown,
            page_starts=parsed.page_starts,
            overlap_tokens=self.overlap_tokens,
        )
        return parsed, chunks

    async def _ingest(self, job: asyncpg.Record, document_id: UUID) -> None:
        job_id, attempt = job["id"], job["attempts"]
        async with self.pool.acquire() as conn:
            document = await document_sql.get_document(conn, document_id)
            if document is None:  # deleted while queued: nothing to do
                await job_sql.finish(conn, job_id, attempt)
                return
            await document_sql.set_status(conn, document_id, "processing")
            data = await document_sql.get_file(conn, document_id)
        if data is None:
            raise IngestError("the uploaded file is missing")
        parsed, pieces = await asyncio.to_thread(self._split, data, document)
        if not pieces:
            raise IngestError("the document has no text to index")

        async def progress(done: int, total: int) -> None:
            async with self.pool.acquire() as conn:
                await document_sql.notify_progress(
                    conn, document_id, stage="embedding", done=done, total=total
                )

        vectors = await embed_sorted(self.embedder, [p.text for p in pieces], progress)
        rows = [
            chunk_sql.NewChunk(
                ordinal=i,
                text=p.text,
                heading_path=p.heading_path,
                page=p.page,
                char_start=p.char_start,
                char_end=p.char_end,
                token_count=p.token_count,
                embedding=vectors[i],
            )
            for i, p in enumerate(pieces)
        ]
        # All chunks, the status and the job's end in one transaction, fenced by the attempt:
        # a crash before the commit leaves nothing searchable, and a worker whose lock was
        # taken over rolls back instead of writing the document a second time.
        async with self.pool.acquire() as conn, conn.transaction():
            if not await job_sql.finish(conn, job_id, attempt):
                raise LostLock()
            await chunk_sql.delete_for_document(conn, document_id)
            await chunk_sql.insert_chunks(conn, document_id, rows)
            if parsed.title and parsed.title != document["title"]:
                await document_sql.set_title(conn, document_id, parsed.title)
            await document_sql.set_status(conn, document_id, "ready", chunk_count=len(rows))
        log.info("document %s ready: %d chunks", document_id, len(rows))
