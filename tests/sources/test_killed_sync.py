"""A worker SIGKILLed mid-sync: the next run finishes with no duplicates and nothing lost."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from app.db import sources as source_sql
from app.db.pool import create_pool
from tests.ingest.test_durability import WorkerProcess, wait_until
from tests.sources.conftest import add_folder
from tests.sources.test_folder_sync import bm25_exact

FILES = 600  # more than one embedding group (256 chunks), so items are stored in steps


async def test_worker_killed_mid_sync(settings, roots: Path):
    folder = roots / "many"
    folder.mkdir()
    for n in range(FILES):
        (folder / f"note-{n:04}.txt").write_text(f"Note {n}: the lighthouse keeper logs ship {n}.")
    pool = await create_pool(settings.database_url, max_size=4)
    try:
        source_id = await add_folder(pool, "many", folder)
        first = WorkerProcess(settings.database_url, lock_seconds=3)
        try:
            first.wait_started()
            async with pool.acquire() as conn, conn.transaction():
                job_id, _ = await source_sql.request_sync(conn, source_id)

            async def stored() -> int:
                async with pool.acquire() as conn:
                    return await conn.fetchval(
                        "SELECT count(*) FROM documents WHERE source_id = $1", source_id
                    )

            deadline = time.monotonic() + 300
            while await stored() == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            first.process.send_signal(signal.SIGKILL)
            first.process.wait()
        finally:
            first.stop()
        async with pool.acquire() as conn:
            before = {
                r["item_key"]: r["id"]
                for r in await conn.fetch(
                    "SELECT item_key, id FROM documents WHERE source_id = $1", source_id
                )
            }
            status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
        assert 0 < len(before) < FILES and status == "running", "not killed mid-sync"

        second = WorkerProcess(settings.database_url, lock_seconds=3)
        try:
            second.wait_started()

            def done() -> bool:
                return (
                    asyncio.run_coroutine_threadsafe(_status(pool, job_id), loop).result() == "done"
                )

            loop = asyncio.get_running_loop()
            await asyncio.to_thread(wait_until, done, 300, second)
        finally:
            second.stop()
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT d.item_key, d.id, d.status, d.chunk_count,
                          (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunks
                   FROM documents d WHERE d.source_id = $1""",
                source_id,
            )
            source = source_sql.to_json(await source_sql.get(conn, source_id))
        assert len(rows) == FILES == len({r["item_key"] for r in rows})
        assert all(r["status"] == "ready" and r["chunk_count"] == r["chunks"] == 1 for r in rows)
        after = {r["item_key"]: r["id"] for r in rows}
        assert all(after[key] == document_id for key, document_id in before.items())
        counts = source["last_counts"]
        assert counts["unchanged"] == len(before) and counts["added"] == FILES - len(before)
        assert counts["chunks_embedded"] == FILES - len(before)
        assert await bm25_exact(pool)
    finally:
        await pool.close()


async def _status(pool, job_id: int) -> str:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
