"""Regression test: hostile files in one batch with ordinary ones.

Each hostile file must fail its own document with a message a person can act on, the
worker must go on, and the ordinary documents of the same batch must become ready.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from app.db.pool import create_pool
from app.embedders.local import LocalEmbedder
from app.ingest import sandbox
from app.jobs.worker import Worker
from tests import files
from tests.helpers import submit
from tests.hostile import corpus


def _ordinary() -> dict[str, tuple[bytes, str]]:
    return {
        "good.txt": (b"Wind turbines turn moving air into electricity.", "text/plain"),
        "good.html": (
            files.html_page("<h1>Tides</h1><p>Tidal power is predictable.</p>"),
            "text/html",
        ),
        "good.pdf": (files.pdf(["Batteries store power for the night."]), "application/pdf"),
    }


def _hostile() -> dict[str, tuple[bytes, str, str]]:
    """name: (bytes, media type, words the error must contain); built when the test runs."""
    return {
        "bomb.docx": (files.docx_bomb(16), corpus.DOCX, "zip bomb"),
        "pages.pdf": (corpus.pdf_many_pages(5001), "application/pdf", "5001 pages"),
        "slow.pdf": (
            corpus.pdf_many_pages(4000, ops=300),
            "application/pdf",
            "PARSE_TIMEOUT_SECONDS",
        ),
        "recursing.pdf": (corpus.pdf_deep_nesting(), "application/pdf", "recursing.pdf"),
        "cyclic.pdf": (corpus.pdf_huge_page_tree(), "application/pdf", "cyclic.pdf"),
        "nested.html": (corpus.nested_html(), "text/html", "levels deep"),
        "huge.txt": (corpus.long_line_text(50), "text/plain", "characters of text"),
        "utf16.txt": (corpus.invalid_utf16(), "text/plain", "not text"),
    }


@pytest.fixture
def short_parse_timeout():
    sandbox.configure(sandbox.Limits(timeout_seconds=3))
    yield
    sandbox.configure(sandbox.Limits())


async def test_hostile_files_fail_alone_and_the_rest_of_their_batch_is_ready(
    settings, short_parse_timeout
):
    ordinary, hostile = _ordinary(), _hostile()
    pool = await create_pool(settings.database_url, max_size=6)
    embedder = await LocalEmbedder.load(None)
    running = None
    try:
        ids = {}
        async with pool.acquire() as conn, conn.transaction():  # one batch
            documents = {**ordinary, **{k: v[:2] for k, v in hostile.items()}}
            for name, (data, media_type) in documents.items():
                done = await submit(conn, data=data, source=name, media_type=media_type, title=name)
                ids[name] = done.document["id"]
        worker = Worker(pool, embedder, retry_base_seconds=600)
        running = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 300
        while True:
            async with pool.acquire() as conn:
                rows = await conn.fetch("SELECT id, status, error FROM documents")
            if all(r["status"] in ("ready", "failed") for r in rows):
                break
            assert not running.done(), running
            assert time.monotonic() < deadline, [dict(r) for r in rows]
            await asyncio.sleep(0.2)
        by_id = {r["id"]: r for r in rows}
        for name in ordinary:
            assert by_id[ids[name]]["status"] == "ready", (name, dict(by_id[ids[name]]))
        for name, (_, _, words) in hostile.items():
            row = by_id[ids[name]]
            assert row["status"] == "failed", (name, dict(row))
            assert words in row["error"], (name, row["error"])
        assert not running.done() and worker.problem is None
    finally:
        if running is not None:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        await embedder.close()
        await pool.close()
