"""The `sync` job kind: bring a source's documents in step with what the source holds now.

Listing first: a listing that fails deletes nothing and records why on the source. Then
each item: the same stamp (or, fetched, the same bytes) is left alone, no parse and no
embedding; a new or changed one is parsed, chunked (anchored: app/ingest/chunk.py) and
matched against its stored chunks, and only chunks whose text or heading path changed are
embedded (app/sources/store.py). Items gone upstream lose their documents. Every item is
committed on its own, fenced by the job's attempt, so a worker killed mid-sync leaves
whole items only, and the next attempt finds them stored and carries on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import PurePath

import asyncpg
import httpx

from app.db import documents as document_sql
from app.db import jobs as job_sql
from app.db import sources as source_sql
from app.errors import AppError
from app.ingest import formats, sandbox
from app.ingest.embed import embed_sorted
from app.jobs import Deps, Lane
from app.jobs.ingest import BIG_GROUP, OVERLAP_TOKENS, split
from app.jobs.runner import Batch
from app.sources import Connector, Item, Known, ListingError, Network, connector
from app.sources.store import Lost, Planned, fence, match, write
from app.text.language import chunk_configs

log = logging.getLogger(__name__)

# Fresh chunks gathered (over items) before one embedding call: the model's batches stay full.
EMBED_GROUP = 256


@dataclass
class Counts:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    chunks_kept: int = 0


class Sync:
    name = "sync"

    def __init__(self, deps: Deps) -> None:
        self.pool = deps.pool
        self.embedder = deps.embedder
        self.overlap_tokens = deps.tuning.get("ingest", {}).get("overlap_tokens", OVERLAP_TOKENS)
        self.lanes = (Lane("sync", 1, concurrency=2),)
        # web and s3 sources reach out under the URL-ingestion rules (ALLOW_PRIVATE_URLS...)
        self.network = Network.of(deps.settings) if deps.settings else Network()
        limits = sandbox.current_limits()
        self.parse_seconds = 2 * limits.timeout_seconds + 30

    async def ended(
        self, conn: asyncpg.Connection, job: asyncpg.Record, *, status: str, error: str
    ) -> None:
        if status == "failed":
            source_id = int(job["payload"]["source_id"])
            await source_sql.record(conn, source_id, error=error, counts=None)
            await source_sql.schedule_next(conn, source_id)

    async def run(self, batch: Batch) -> None:
        for job in list(batch.jobs):
            try:
                try:
                    await self._sync(batch, job)
                except AppError as exc:  # the source's settings or a root removed: say so
                    await self._end(job, error=exc.message)
            except Lost as exc:
                log.warning("%s; dropped", exc)
            except Exception as exc:
                log.exception("sync job %s failed (attempt %s)", job["id"], job["attempts"])
                await batch.retry_or_fail(job, exc)
                continue
            batch.ended(job)

    async def _sync(self, batch: Batch, job: asyncpg.Record) -> None:
        source_id = int(job["payload"]["source_id"])
        async with self.pool.acquire() as conn:
            source = await source_sql.get(conn, source_id)
            if source is None:  # deleted since: nothing to do
                await job_sql.finish(conn, job["id"], job["attempts"])
                return
            stored = await source_sql.documents(conn, source_id)
        async with httpx.AsyncClient(follow_redirects=False) as http:
            network = dataclasses.replace(self.network, http=http)
            source_conn = connector(source["kind"], dict(source["settings"]), network)
            batch.expect(stage="listing")
            try:
                items = await source_conn.list(self._known(batch, stored))
            except ListingError as exc:
                log.warning("listing source %s failed: %s", source["name"], exc.message)
                await self._end(job, error=f"listing failed, nothing was changed: {exc.message}")
                return
            await self._items(batch, job, source, source_conn, items, stored)

    def _known(self, batch: Batch, stored: dict[str, asyncpg.Record]) -> Known:
        async def read(key: str) -> bytes | None:
            if key not in stored:
                return None
            async with self.pool.acquire() as conn:
                return await document_sql.read_file(conn, stored[key]["id"])

        def alive() -> None:
            batch.expect(stage="listing")

        return Known({key: row["item_stamp"] for key, row in stored.items()}, read, alive)

    async def _items(
        self,
        batch: Batch,
        job: asyncpg.Record,
        source: asyncpg.Record,
        source_conn: Connector,
        items: list[Item],
        stored: dict[str, asyncpg.Record],
    ) -> None:
        """Store what is new or changed, delete what is gone, record the counts."""
        counts = Counts()
        problems: list[str] = []
        pending: list[Planned] = []
        for item in items:
            batch.expect(self.parse_seconds, "parsing")
            document = stored.get(item.key)
            if document is not None and document["item_stamp"] == item.stamp:
                counts.unchanged += 1
                continue
            try:
                planned = await self._plan(source_conn, item, document, counts)
            except ListingError as exc:  # vanished or unreadable since the listing
                problems.append(exc.message)
                continue
            if planned is None:
                continue
            pending.append(planned)
            if sum(len(p.fresh) for p in pending) >= EMBED_GROUP:
                await self._store(batch, job, source, pending, counts)
                pending = []
        await self._store(batch, job, source, pending, counts)
        listed = {item.key for item in items}
        gone = [row["id"] for key, row in stored.items() if key not in listed]
        async with self.pool.acquire() as conn, conn.transaction():
            await fence(conn, job)
            await conn.execute("DELETE FROM documents WHERE id = ANY($1::uuid[])", gone)
        counts.removed = len(gone)
        error = "; ".join(problems[:5]) if problems else None
        await self._end(job, error=error, counts=counts)

    async def _plan(
        self, source_conn: Connector, item: Item, document: asyncpg.Record | None, counts: Counts
    ) -> Planned | None:
        """Fetch the item; None when its bytes are the stored ones (the stamp is updated)."""
        data = await source_conn.fetch(item.key)
        sha = hashlib.sha256(data).hexdigest()
        if document is not None and document["sha256"] == sha and document["status"] == "ready":
            async with self.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE documents SET item_stamp = $2 WHERE id = $1", document["id"], item.stamp
                )
            counts.unchanged += 1
            return None
        fmt = (item.media_type and formats.for_content_type(item.media_type)) or (
            formats.for_filename(item.key)
        )
        planned = Planned(
            item.key, item.stamp, sha, fmt.media_type, data, document and document["id"]
        )
        try:
            await asyncio.to_thread(self._split, planned)
        except AppError as exc:  # cannot be read: stored as a failed document, not retried
            planned.error, planned.chunks = exc.message, []
        if document is None:
            counts.added += 1
        else:
            counts.changed += 1
        return planned

    def _split(self, planned: Planned) -> None:
        parsed, planned.chunks = split(
            planned.data,
            planned.media_type,
            PurePath(planned.key).name,
            self.embedder,
            overlap_tokens=self.overlap_tokens,
            anchored=True,  # an edit re-chunks up to the next anchor, not everything after it
        )
        planned.title = parsed.title
        if not planned.chunks:
            raise AppError("the document has no text to index")

    async def _store(
        self,
        batch: Batch,
        job: asyncpg.Record,
        source: asyncpg.Record,
        pending: list[Planned],
        counts: Counts,
    ) -> None:
        """Embed the fresh chunks of these items together, then write each item on its own."""
        if not pending:
            return
        async with self.pool.acquire() as conn:
            for planned in pending:
                await match(conn, planned)
        texts = [p.chunks[i].text for p in pending for i in p.fresh]
        batch.expect(stage="embedding")

        async def progress(done: int, total: int) -> None:
            batch.expect(stage="embedding")  # each model call is progress: the lease holds

        vectors, sentences = await embed_sorted(self.embedder, texts, progress, group=BIG_GROUP)
        languages = await asyncio.to_thread(chunk_configs, texts)
        start = 0
        for planned in pending:
            end = start + len(planned.fresh)
            batch.expect(stage="storing")
            async with self.pool.acquire() as conn, conn.transaction():
                await write(
                    conn,
                    job,
                    source,
                    planned,
                    vectors[start:end],
                    sentences[start:end],
                    languages[start:end],
                )
            counts.chunks_embedded += end - start
            counts.chunks_kept += len(planned.chunks) - (end - start)
            start = end

    async def _end(
        self, job: asyncpg.Record, *, error: str | None, counts: Counts | None = None
    ) -> None:
        """Finish the job, record the outcome on the source and queue its next sync."""
        source_id = int(job["payload"]["source_id"])
        async with self.pool.acquire() as conn, conn.transaction():
            if not await job_sql.finish(conn, job["id"], job["attempts"]):
                raise Lost(f"sync job {job['id']} was taken over")
            await source_sql.record(
                conn, source_id, error=error, counts=asdict(counts) if counts else None
            )
            await source_sql.schedule_next(conn, source_id)
