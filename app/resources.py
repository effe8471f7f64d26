"""What the app holds for its lifetime: settings, database pool, embedder, in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import redis.asyncio as redis

from app.cache import Cache, make_cache
from app.config import Settings
from app.db import migrate as migrations
from app.db.embedded import start_embedded, stop_embedded
from app.db.pool import create_pool
from app.embedders import Embedder, load_embedder
from app.errors import ServiceUnavailable
from app.ingest.events import DocumentEvents
from app.ingest.reindex import check_model as check_embedding_model
from app.llm import LLM, load_llm
from app.rag.stream_log import StreamWriter, stream_log
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
    redis: redis.Redis | None = None  # only what can be rebuilt: caches, counters
    embedded_server: Any = None
    worker_task: asyncio.Task[None] | None = None
    document_events: DocumentEvents | None = None
    reranker: Reranker | None = None  # RERANK_PROVIDER; None costs nothing


def database_url(settings: Settings) -> tuple[str, Any]:
    """DATABASE_URL, or the URL of an embedded server started in DATA_DIR (and the server)."""
    if settings.database_url:
        return settings.database_url, None
    server = start_embedded(settings.data_dir)
    return server.get_uri(), server


async def run_migrations(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrations.migrate(conn)
    finally:
        await conn.close()


async def startup(
    settings: Settings, *, local: bool = False, check_model: bool = True
) -> Resources:
    """Open everything. `local` (python -m app serve) also migrates and runs a worker.

    Refuses to start when the configured embedding model is not the one the stored vectors
    came from (`check_model=False` is for `python -m app reindex` only).
    """
    dsn, server = database_url(settings)
    pool = None
    try:
        if local:
            await run_migrations(dsn)
        else:
            await _check_schema(dsn)
        # Streams hold no connection while they stream, but each ask needs two short queries
        # to open: at 500 asks a second the default 10 queued them for a minute.
        pool = await create_pool(dsn, max_size=30)
        embedder = await load_embedder(settings)
        if check_model:
            async with pool.acquire() as conn:
                await check_embedding_model(conn, embedder)
    except BaseException:
        if pool is not None:
            await pool.close()
        if server is not None:
            stop_embedded(server)
        raise
    # Connects lazily, with short timeouts: a Redis that is down never stops startup,
    # and requests go on without the cache.
    redis_client = _redis_client(settings.redis_url) if settings.redis_url else None
    cache = make_cache(redis_client)
    resources = Resources(
        settings,
        pool,
        embedder,
        http=httpx.AsyncClient(timeout=httpx.Timeout(30, connect=5), follow_redirects=False),
        cache=cache,
        llm=load_llm(settings, embedder, pool, cache),
        stream_writer=StreamWriter(stream_log(redis_client, pool)),
        redis=redis_client,
        embedded_server=server,
        document_events=DocumentEvents(pool),
        reranker=await load_reranker(settings),
    )
    if local:
        from app.ingest.worker import Worker

        resources.worker_task = asyncio.create_task(
            Worker(pool, embedder, lock_seconds=settings.worker_lock_seconds).run(), name="worker"
        )
    return resources


def _redis_client(url: str) -> redis.Redis:
    # A blocking pool: with thousands of answer streams recording at once, the default pool
    # raises "Too many connections" instead of waiting a moment for a free one.
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=64, timeout=5, socket_connect_timeout=0.5, socket_timeout=2
    )
    return redis.Redis.from_pool(pool)  # owns the pool: aclose() closes it too


async def _check_schema(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrations.check_pgvector(conn)
        missing = await migrations.pending(conn)
    finally:
        await conn.close()
    if missing:
        raise ServiceUnavailable(
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
    if resources.redis is not None:
        await resources.redis.aclose()
    await resources.pool.close()
    if resources.embedded_server is not None:
        stop_embedded(resources.embedded_server)
