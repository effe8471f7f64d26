"""The `replace` job kind: an uploaded document replaced by a new version of its file
(`replace=true` on the upload API), down to the chunk like a synced item.

The request stored the new file in place of the old and queued this job; the old chunks
stay searchable meanwhile. The new text is chunked both ways (anchored, as synced items
are, and plain, as uploads are) and the chunking that keeps more stored chunks wins: a
document uploaded plainly keeps its chunks up to the edit the first time, and each
replace moves it towards anchored chunks, whose boundaries an edit does not shift. Chunks
whose text and heading path are unchanged keep their ids and vectors; only the others are
embedded.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import asyncpg

from app.db import documents as document_sql
from app.db import jobs as job_sql
from app.errors import IngestError
from app.ingest.embed import embed_sorted
from app.jobs import Deps, Lane
from app.jobs.ingest import BIG_GROUP, EMBEDDING, OVERLAP_TOKENS, PARSING, STORING, chunks_of
from app.jobs.ingest import split as parse_and_chunk
from app.jobs.runner import Batch
from app.sources.store import Lost, Planned, fence, match, replace_chunks
from app.text.language import chunk_configs

log = logging.getLogger(__name__)


class Replace:
    name = "replace"

    def __init__(self, deps: Deps) -> None:
        self.pool = deps.pool
        self.embedder = deps.embedder
        self.overlap_tokens = deps.tuning.get("ingest", {}).get("overlap_tokens", OVERLAP_TOKENS)
        self.lanes = (Lane("replace", 1),)

    async def ended(
        self, conn: asyncpg.Connection, job: asyncpg.Record, *, status: str, error: str
    ) -> None:
        document_id = UUID(job["payload"]["document_id"])
        await document_sql.set_status(conn, document_id, status, error=error)

    async def run(self, batch: Batch) -> None:
        for job in list(batch.jobs):
            try:
                await self._replace(batch, job)
            except IngestError as exc:  # the new file cannot be read: the same every time
                await batch.give_up(job, str(exc))
                continue
            except Lost as exc:
                log.warning("%s; dropped", exc)
            except Exception as exc:
                log.exception("replace job %s failed (attempt %s)", job["id"], job["attempts"])
                await batch.retry_or_fail(job, exc)
                continue
            batch.ended(job)

    async def _replace(self, batch: Batch, job: asyncpg.Record) -> None:
        document_id = UUID(job["payload"]["document_id"])
        batch.expect(stage=PARSING)
        async with self.pool.acquire() as conn:
            document = await document_sql.get_document(conn, document_id)
            content = document and await document_sql.read_file(conn, document_id)
            if document is None or content is None:  # deleted since: nothing to do
                await job_sql.finish(conn, job["id"], job["attempts"])
                return
            await document_sql.set_processing(conn, [document_id])
        planned = await self._plan(document, content)
        texts = [planned.chunks[i].text for i in planned.fresh]
        batch.expect(stage=EMBEDDING)

        async def progress(done: int, total: int) -> None:
            batch.expect(stage=EMBEDDING)

        vectors, sentences = await embed_sorted(self.embedder, texts, progress, group=BIG_GROUP)
        languages = await asyncio.to_thread(chunk_configs, texts)
        batch.expect(stage=STORING)
        async with self.pool.acquire() as conn, conn.transaction():
            await fence(conn, job)
            if not await document_sql.lock_present(conn, [document_id]):
                log.info("document %s was deleted while it was replaced", document_id)
            else:
                await replace_chunks(conn, document_id, planned, vectors, sentences, languages)
                await document_sql.set_ready(
                    conn, [document_id], [len(planned.chunks)], [planned.title]
                )
            await job_sql.finish(conn, job["id"], job["attempts"])
        log.info(
            "document %s replaced: %d chunks embedded, %d kept",
            document_id,
            len(planned.fresh),
            len(planned.chunks) - len(planned.fresh),
        )

    async def _plan(self, document: asyncpg.Record, content: bytes) -> Planned:
        """The new chunks, matched against the stored ones (the better of two chunkings)."""
        parsed, anchored = await asyncio.to_thread(
            parse_and_chunk,
            content,
            document["media_type"],
            document["source"],
            self.embedder,
            overlap_tokens=self.overlap_tokens,
            anchored=True,
        )
        if not anchored:
            raise IngestError("the document has no text to index")
        plain = await asyncio.to_thread(
            chunks_of, parsed, self.embedder, overlap_tokens=self.overlap_tokens, anchored=False
        )
        options = []
        async with self.pool.acquire() as conn:
            for chunks in (anchored, plain):
                planned = Planned(
                    document["source"], "", document["sha256"], document["media_type"],
                    content, document["id"], parsed.title, chunks,
                )  # fmt: skip
                await match(conn, planned)
                options.append(planned)
        # More chunks kept wins; on a tie, anchored (the next edit then shifts nothing).
        return max(options, key=lambda p: len(p.chunks) - len(p.fresh))
