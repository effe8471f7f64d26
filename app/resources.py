"""What the app holds for its lifetime: settings, database pool, embedder, in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from app.backends import Cache, cache_url, open_cache, open_stream_log, stream_log_url
from app.config import Settings
from app.db import migrate as migrations
from app.db.embedded import start_embedded, stop_embedded
from app.db.pool import connect, create_pool
from app.embedders import Embedder, load_embedder
from app.errors import SchemaBehind
from app.infra.admission import Admission
from app.infra.capacity import Capacity, capacity
from app.infra.memory import release_free_memory
from app.ingest import sandbox
from app.ingest.events import DocumentEvents
from app.ingest.reindex import check_model as check_embedding_model
from app.llm import LLM, load_llm
from app.rag.answer import Answerer
from app.rag.retriever import Retriever
from app.rag.stream_log import StreamWriter
from app.rerankers import Reranker, load_reranker

log = logging.getLogger(__name__)


@dataclass
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    embedder: Embedder
    http: httpx.AsyncClient
    cache: Cache
    llm: LLM
    stream_writer: StreamWriter  # answer streams' events, kept for resume
    retriever: Retriever  # the one ranking /api/search, answers and eval share
    answerer: Answerer  # the answer service every transport (SSE, WebSocket, /v1) uses
    embedded_server: Any = None
    worker_task: asyncio.Task[None] | None = None
    document_events: DocumentEvents | None = None
    reranker: Reranker | None = None  # RERANK_PROVIDER; None costs nothing
    # Asks admitted to start, the rest queued or refused (every transport, before Answerer.open).
    admission: Admission = field(default_factory=lambda: Admission(8, 60, 1.0))
    capacity: Capacity | None = None  # the sizes this worker runs with (app/infra/capacity.py)


def database_url(settings: Settings) -> tuple[str, Any]:
    """DATABASE_URL, or the URL of an embedded server started in DATA_DIR (and the server)."""
    if settings.database_url:
        return settings.database_url, None
    server = start_embedded(settings.data_dir)
    return server.get_uri(), server


async def run_migrations(dsn: str) -> list[str]:
    conn = await connect(dsn)
    try:
        return await migrations.migrate(conn)
    finally:
        await conn.close()


async def startup(
    settings: Settings, *, local: bool = False, check_model: bool = True, worker: bool = False
) -> Resources:
    """Open everything. `local` (python -m app serve) also migrates and runs a worker.

    Refuses to start when the configured embedding model is not the one the stored vectors
    came from (`check_model=False` is for `python -m app reindex` only). `worker`: an
    ingestion worker process, sized by WORKER_PROCESSES instead of WEB_CONCURRENCY.
    """
    sandbox.configure(
        sandbox.Limits(
            settings.parse_timeout_seconds,
            settings.parse_memory_mb,
            ocr_languages=settings.ocr_languages,
            ocr_page_seconds=settings.ocr_page_seconds,
        )
    )
    dsn, server = database_url(settings)
    pool = None
    try:
        if local:
            await run_migrations(dsn)
        else:
            await _check_schema(dsn)
        # Streams hold no connection while they stream; each starting ask may hold one (the
        # sizing rule: app/infra/capacity.py).
        # serve: one process; a worker: one of WORKER_PROCESSES on the machine.
        processes = 1 if local else settings.worker_processes if worker else None
        sizes = capacity(settings, workers=processes)
        pool = await create_pool(
            dsn,
            max_size=sizes.db_pool_size,
            acquire_timeout=settings.db_acquire_timeout,
            statement_timeout=settings.db_statement_timeout,
        )
        embedder = await load_embedder(settings, threads=sizes.embedding_threads)
        if check_model:
            async with pool.acquire() as conn:
                await check_embedding_model(conn, embedder)
    except BaseException:
        if pool is not None:
            await pool.close()
        if server is not None:
            stop_embedded(server)
        raise
    cache = open_cache(cache_url(settings))
    llm = load_llm(settings)
    reranker = await load_reranker(settings)
    retriever = Retriever(
        pool, embedder, cache, reranker, rerank_candidates=settings.rerank_candidates
    )
    resources = Resources(
        settings,
        pool,
        embedder,
        http=httpx.AsyncClient(timeout=httpx.Timeout(30, connect=5), follow_redirects=False),
        cache=cache,
        llm=llm,
        stream_writer=StreamWriter(open_stream_log(stream_log_url(settings), pool)),
        retriever=retriever,
        answerer=Answerer(pool, embedder, llm, retriever),
        embedded_server=server,
        document_events=DocumentEvents(pool),
        reranker=reranker,
        admission=Admission(sizes.ask_concurrency, sizes.ask_queue_size, sizes.ask_queue_seconds),
        capacity=sizes,
    )
    log.info("capacity of this worker: %s", sizes)
    release_free_memory()  # what loading the model freed (app/infra/memory.py)
    if local:
        from app.jobs.worker import Worker

        resources.worker_task = asyncio.create_task(
            Worker(
                pool, embedder, lock_seconds=settings.worker_lock_seconds, settings=settings
            ).run(),
            name="worker",
        )
        resources.worker_task.add_done_callback(_worker_ended)
    return resources


def worker_stopped(resources: Resources) -> str | None:
    """Why the in-process worker is no longer running, or None (running, or none kept)."""
    task = resources.worker_task
    if task is None or not task.done():
        return None
    if task.cancelled():
        return "the ingestion worker was cancelled"
    return f"the ingestion worker stopped: {task.exception()!r}"


def _worker_ended(task: asyncio.Task[None]) -> None:
    # Uploads still answer 202 without a worker: say so loudly (/readyz reports it too).
    if not task.cancelled():
        log.error(
            "the ingestion worker stopped; uploaded documents stay queued until a restart",
            exc_info=task.exception(),
        )


async def _check_schema(dsn: str) -> None:
    conn = await connect(dsn)
    try:
        await migrations.check_pgvector(conn)
        missing = await migrations.pending(conn)
    finally:
        await conn.close()
    if missing:
        raise SchemaBehind(
            f"the database schema is behind ({', '.join(missing)} not applied): "
            "run `python -m app migrate`"
        )


async def shutdown(resources: Resources) -> None:
    if resources.worker_task is not None:
        resources.worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await resources.worker_task
    if resources.document_events is not None:
        await resources.document_events.close()
    await resources.embedder.close()
    if resources.reranker is not None:
        await resources.reranker.close()
    await resources.http.aclose()
    await resources.llm.aclose()
    await resources.cache.aclose()
    await resources.stream_writer.store.aclose()
    await resources.pool.close()
    if resources.embedded_server is not None:
        stop_embedded(resources.embedded_server)
