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

from app.config import Settings
from app.db import migrate as migrations
from app.db.embedded import start_embedded, stop_embedded
from app.db.pool import create_pool
from app.errors import ServiceUnavailable
from app.rag.embedders import Embedder, load_embedder
from app.rag.llm import LLM, load_llm

log = logging.getLogger(__name__)


@dataclass
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    embedder: Embedder
    http: httpx.AsyncClient
    llm: LLM
    redis: redis.Redis | None = None  # only what can be rebuilt: caches, counters
    embedded_server: Any = None
    worker_task: asyncio.Task[None] | None = None


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


async def startup(settings: Settings, *, local: bool = False) -> Resources:
    """Open everything. `local` (python -m app serve) also migrates and runs a worker."""
    dsn, server = database_url(settings)
    try:
        if local:
            await run_migrations(dsn)
        else:
            await _check_schema(dsn)
        pool = await create_pool(dsn)
        embedder = await load_embedder(settings)
    except BaseException:
        if server is not None:
            stop_embedded(server)
        raise
    resources = Resources(
        settings,
        pool,
        embedder,
        http=httpx.AsyncClient(timeout=httpx.Timeout(30, connect=5), follow_redirects=False),
        llm=load_llm(settings, embedder),
        # Connects lazily: a Redis that is down slows requests, it never stops startup.
        redis=_redis_client(settings.redis_url) if settings.redis_url else None,
        embedded_server=server,
    )
    if local:
        from app.ingest.worker import Worker

        resources.worker_task = asyncio.create_task(Worker(pool, embedder).run(), name="worker")
    return resources


def _redis_client(url: str) -> redis.Redis:
    # A blocking pool: with thousands of answer streams recording at once, the default pool
    # raises "Too many connections" instead of waiting a moment for a free one.
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=64, timeout=5)
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
    await resources.embedder.close()
    await resources.http.aclose()
    await resources.llm.aclose()
    if resources.redis is not None:
        await resources.redis.aclose()
    await resources.pool.close()
    if resources.embedded_server is not None:
        stop_embedded(resources.embedded_server)
