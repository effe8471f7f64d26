"""The ingestion worker: claims jobs from Postgres and turns documents into searchable chunks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from uuid import UUID

import asyncpg

from app.db import chunks as chunk_sql
from app.db import documents as document_sql
from app.db import jobs as job_sql
from app.errors import AppError
from app.ingest.chunk import Chunk, chunk_text
from app.ingest.parse import IngestError, decode_text
from app.rag.embedders import Embedder

log = logging.getLogger(__name__)


class Worker:
    """Runs ingestion jobs until stopped; any number of these may share one database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        embedder: Embedder,
        *,
        lock_seconds: float = 600,
        poll_seconds: float = 5,
        retry_base_seconds: float = 5,
    ) -> None:
        self.pool = pool
        self.embedder = embedder
        self.lock_seconds = lock_seconds
        self.poll_seconds = poll_seconds
        self.retry_base_seconds = retry_base_seconds
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
            job = await job_sql.claim(conn, lock_seconds=self.lock_seconds)
        if job is None:
            return False
        try:
            if job["kind"] != "ingest":
                raise IngestError(f"unknown job kind {job['kind']!r}")
            await self._ingest(job["id"], UUID(job["payload"]["document_id"]))
        except (IngestError, AppError) as exc:
            await self._give_up(job, str(exc))
        except Exception as exc:
            log.exception("job %s failed (attempt %s)", job["id"], job["attempts"])
            if job["attempts"] >= job["max_attempts"]:
                await self._give_up(job, f"{type(exc).__name__}: {exc}")
            else:
                delay = self.retry_base_seconds * 2 ** (job["attempts"] - 1)
                async with self.pool.acquire() as conn, conn.transaction():
                    await job_sql.retry_later(conn, job["id"], str(exc), delay)
                    await document_sql.set_status(
                        conn, UUID(job["payload"]["document_id"]), "queued", error=str(exc)
                    )
        return True

    async def _give_up(self, job: asyncpg.Record, error: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await job_sql.fail(conn, job["id"], error)
            document_id = job["payload"].get("document_id")
            if document_id:
                await document_sql.set_status(conn, UUID(document_id), "failed", error=error)

    def _split(self, data: bytes, document: asyncpg.Record) -> list[Chunk]:
        """Decode and chunk (CPU work for big files, so it runs off the event loop)."""
        text = decode_text(data, document["source"])
        return chunk_text(
            text,
            self.embedder.count_tokens,
            self.embedder.max_tokens,
            markdown=document["media_type"] == "text/markdown",
        )

    async def _ingest(self, job_id: int, document_id: UUID) -> None:
        async with self.pool.acquire() as conn:
            document = await document_sql.get_document(conn, document_id)
            if document is None:  # deleted while queued: nothing to do
                await job_sql.finish(conn, job_id)
                return
            await document_sql.set_status(conn, document_id, "processing")
            data = await document_sql.get_file(conn, document_id)
        if data is None:
            raise IngestError("the uploaded file is missing")
        pieces = await asyncio.to_thread(self._split, data, document)
        if not pieces:
            raise IngestError("the document has no text to index")
        vectors = await self.embedder.embed([p.text for p in pieces])
        rows = [
            chunk_sql.NewChunk(
                ordinal=i,
                text=p.text,
                heading_path=p.heading_path,
                page=None,
                char_start=p.char_start,
                char_end=p.char_end,
                token_count=p.token_count,
                embedding=vectors[i],
            )
            for i, p in enumerate(pieces)
        ]
        # All chunks, the status and the job's end in one transaction: a crash before the
        # commit leaves nothing searchable, and the retry starts from a clean slate.
        async with self.pool.acquire() as conn, conn.transaction():
            await chunk_sql.delete_for_document(conn, document_id)
            await chunk_sql.insert_chunks(conn, document_id, rows)
            await document_sql.set_status(conn, document_id, "ready", chunk_count=len(rows))
            await job_sql.finish(conn, job_id)
        log.info("document %s ready: %d chunks", document_id, len(rows))
