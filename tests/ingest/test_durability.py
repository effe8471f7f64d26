"""The queue under real worker processes: killed mid-document, and two at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.db.pool import init_connection
from app.ingest import formats
from app.ingest.accept import accept_document
from app.ingest.spool import hashed

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python -m app worker` against the test database, its log collected in a thread."""

    def __init__(self, database_url: str, lock_seconds: float = 3) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "WORKER_LOCK_SECONDS": str(lock_seconds),
            "LOG_LEVEL": "INFO",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_started(self, timeout: float = 120) -> None:
        wait_until(lambda: any("worker started" in line for line in self.lines), timeout, self)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()


def wait_until(check: Any, timeout: float, worker: WorkerProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if worker is not None and worker.process.poll() is not None:
            raise AssertionError("the worker exited:\n" + "".join(worker.lines))
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def workers(settings) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


async def _query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(_query(url, sql, *args))


async def _submit_all(url: str, texts: dict[str, str]) -> list[str]:
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with conn.transaction():
                ids = []
                for name, text in texts.items():
                    path = Path(folder) / name
                    path.write_text(text)
                    result = await accept_document(
                        conn,
                        await hashed(path),
                        source=name,
                        fmt=formats.for_filename(name),
                        collection="default",
                    )
                    ids.append(str(result.document["id"]))
                return ids
    finally:
        await conn.close()


def submit_all(url: str, texts: dict[str, str]) -> list[str]:
    return asyncio.run(_submit_all(url, texts))


def status_of(url: str, document_id: str) -> str:
    return query(url, "SELECT status FROM documents WHERE id = $1", document_id)[0]["status"]


def assert_ingested_exactly_once(url: str) -> None:
    documents = query(
        url,
        """SELECT d.id, d.status, d.chunk_count, count(c.id) AS chunks,
                  count(DISTINCT c.ordinal) AS ordinals, coalesce(max(c.ordinal), -1) AS top
           FROM documents d LEFT JOIN chunks c ON c.document_id = d.id
           GROUP BY d.id""",
    )
    for row in documents:
        assert row["status"] == "ready", dict(row)
        # chunk_count matches the rows, and ordinals are 0..n-1 without gaps or repeats.
        assert row["chunk_count"] == row["chunks"] == row["ordinals"] == row["top"] + 1 > 0
    jobs = query(url, "SELECT status FROM jobs")
    assert [j["status"] for j in jobs] == ["done"] * len(documents)


def long_document() -> str:
    """Enough distinct paragraphs that embedding them takes the worker a while."""
    return "\n\n".join(
        f"Paragraph {i} on topic {i * 7919 % 1000}: "
        + " ".join(f"word{(i * 31 + j) % 5000}" for j in range(50))
        for i in range(150)
    )


def test_worker_killed_mid_document_leaves_it_ready_exactly_once(settings, workers):
    url = settings.database_url
    [document_id] = submit_all(url, {"long.txt": long_document()})
    first = WorkerProcess(url)
    workers.append(first)
    wait_until(lambda: status_of(url, document_id) == "processing", 180, first)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    # Killed before its one commit: nothing of the document is searchable.
    assert query(url, "SELECT count(*) AS n FROM chunks")[0]["n"] == 0

    second = WorkerProcess(url)
    workers.append(second)
    # The job comes back when the dead worker's lock expires (a few seconds here).
    wait_until(lambda: status_of(url, document_id) == "ready", 300, second)
    assert_ingested_exactly_once(url)
    [job] = query(url, "SELECT attempts, last_error FROM jobs")
    assert job["attempts"] == 2


def test_two_workers_ingest_fifty_documents_each_exactly_once(settings, workers):
    url = settings.database_url
    pair = [WorkerProcess(url, lock_seconds=30), WorkerProcess(url, lock_seconds=30)]
    workers.extend(pair)
    for worker in pair:
        worker.wait_started()
    texts = {
        f"note-{i}.txt": f"Note {i}.\n\nThe value of item {i} is {i * i}. " * (1 + i % 5)
        for i in range(50)
    }
    ids = submit_all(url, texts)  # one commit, one NOTIFY: both workers wake at once
    wait_until(
        lambda: (
            query(url, "SELECT count(*) AS n FROM documents WHERE status = 'ready'")[0]["n"]
            == len(ids)
        ),
        300,
    )
    assert_ingested_exactly_once(url)
    attempts = query(url, "SELECT attempts FROM jobs")
    assert [a["attempts"] for a in attempts] == [1] * 50


class SignallingEmbedder:
    """The real model, which says when a worker starts embedding with it."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.embedding = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    async def embed_spans(self, texts: Any, spans: Any) -> Any:
        self.embedding.set()
        return await self.model.embed_spans(texts, spans)


async def test_a_stopped_worker_stops_beating_for_the_batch_it_was_embedding(settings):
    # Its heartbeat must end with it, or the half-done job would stay locked forever.
    from app.db.pool import create_pool
    from app.embedders.local import LocalEmbedder
    from app.jobs.worker import Worker
    from tests.helpers import claim_one, eventually

    pool = await create_pool(settings.database_url, max_size=6)
    embedder = SignallingEmbedder(await LocalEmbedder.load(None))
    try:
        await _submit_all(settings.database_url, {"long.txt": long_document()})
        worker = Worker(pool, embedder, lock_seconds=0.6)  # type: ignore[arg-type]
        running = asyncio.create_task(worker.run())
        await asyncio.wait_for(embedder.embedding.wait(), 120)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert not worker._leases

        async def claim_again() -> asyncpg.Record | None:
            async with pool.acquire() as conn:
                return await claim_one(conn, lock_seconds=5, worker="next")

        # Claimable once the 0.6 s lock expires; a heartbeat still beating would keep it
        # locked past the deadline.
        job = await eventually(claim_again, timeout=30)
        assert job["attempts"] == 2
    finally:
        await embedder.close()
        await pool.close()
