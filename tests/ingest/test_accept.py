"""accept_document: the file goes into Postgres in parts, never whole in memory, once."""

import asyncio
import hashlib
import tracemalloc

import asyncpg
import pytest

from app.db import documents as document_sql
from app.db.pool import create_pool
from app.errors import IngestError
from app.ingest import formats
from app.ingest.accept import PART_BYTES, accept_document
from app.ingest.spool import hashed
from tests.helpers import eventually, row_counts


@pytest.fixture
async def pool(settings):
    pool = await create_pool(settings.database_url, max_size=2)
    yield pool
    await pool.close()


async def test_a_large_upload_is_stored_in_parts_without_being_held_whole(pool, tmp_path):
    line = "Solar panels convert sunlight into electricity, about 22 percent of it.\n"
    path = tmp_path / "big.txt"
    with path.open("w") as file:
        for _ in range(32 * 1024 * 1024 // len(line)):
            file.write(line)
    file_info = await hashed(path)
    assert file_info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()

    tracemalloc.start()
    try:
        async with pool.acquire() as conn, conn.transaction():
            accepted = await accept_document(
                conn, file_info, source="big.txt", fmt=formats.for_filename("big.txt"),
                collection="default",
            )  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A few parts and COPY buffers at most, for a 32 MB file.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"

    document_id = accepted.document["id"]
    assert accepted.document["size_bytes"] == file_info.size
    async with pool.acquire() as conn:
        parts = await conn.fetchval(
            "SELECT count(*) FROM document_files WHERE document_id = $1", document_id
        )
        stored = await document_sql.read_file(conn, document_id)
    assert parts == -(-file_info.size // PART_BYTES)
    assert stored == path.read_bytes()


async def test_same_content_is_one_document_per_collection(pool, tmp_path, settings):
    path = tmp_path / "notes.md"
    path.write_text("# Tea\n\nTea grows on hills.")
    fmt = formats.for_filename(path.name)

    async def accept(collection: str):
        async with pool.acquire() as conn, conn.transaction():
            return await accept_document(
                conn, await hashed(path), source="notes.md", fmt=fmt, collection=collection
            )

    first = await accept("default")
    assert not first.duplicate and first.document["title"] == "Tea"
    before = await _counts(settings.database_url)
    again = await accept("default")
    assert again.duplicate and again.document["id"] == first.document["id"]
    assert await _counts(settings.database_url) == before
    elsewhere = await accept("other")
    assert not elsewhere.duplicate and elsewhere.document["id"] != first.document["id"]


async def test_a_file_its_format_refuses_leaves_no_rows(pool, tmp_path, settings):
    path = tmp_path / "report.pdf"
    path.write_bytes(b"<html>not a pdf</html>")
    before = await _counts(settings.database_url)
    with pytest.raises(IngestError, match="%PDF-"):
        async with pool.acquire() as conn, conn.transaction():
            await accept_document(
                conn, await hashed(path), source="report.pdf",
                fmt=formats.for_filename("report.pdf"), collection="new-one",
            )  # fmt: skip
    assert await _counts(settings.database_url) == before


async def _counts(url: str) -> dict[str, int]:
    import asyncio

    return await asyncio.to_thread(row_counts, url)


async def test_a_byte_range_across_stored_parts_reads_the_right_bytes(pool, tmp_path, monkeypatch):
    # Downloads read pieces of the stored file; a piece may span several parts.
    from app.db import document_files
    from app.ingest import accept

    monkeypatch.setattr(accept, "PART_BYTES", 7)
    data = b"".join(f"line {i:03d}\n".encode() for i in range(40))
    path = tmp_path / "lines.txt"
    path.write_bytes(data)
    async with pool.acquire() as conn, conn.transaction():
        accepted = await accept_document(
            conn, await hashed(path), source="lines.txt", fmt=formats.for_filename("lines.txt"),
            collection="default",
        )  # fmt: skip
    document_id = accepted.document["id"]
    async with pool.acquire() as conn:
        info = await document_files.file_info(conn, document_id)
        assert info["length"] == len(data)
        for start, size in [(0, 3), (5, 9), (6, 1), (7, 7), (13, 50), (len(data) - 4, 100)]:
            piece = await document_files.read_piece(conn, document_id, start, size)
            assert piece == data[start : start + size], (start, size)
        assert await document_files.read_piece(conn, document_id, len(data), 10) == b""


async def test_an_upload_racing_a_delete_of_the_same_content_gets_a_document(
    pool, tmp_path, settings
):
    # Was: "exists" (INSERT ... DO NOTHING) then "read it" (SELECT) in two statements; a
    # delete between them hit an assert, a 500. Now one statement inserts or locks the row:
    # a delete in flight is waited for, and the upload becomes a new document.
    path = tmp_path / "notes.md"
    path.write_text("# Tea\n\nTea grows on hills.")
    fmt = formats.for_filename(path.name)
    file = await hashed(path)

    async def accept():
        async with pool.acquire() as conn, conn.transaction():
            return await accept_document(
                conn, file, source="notes.md", fmt=fmt, collection="default"
            )

    first = await accept()
    watcher = await asyncpg.connect(settings.database_url)  # the pool's two: upload, delete
    async with pool.acquire() as deleter:
        async with deleter.transaction():
            await deleter.execute("DELETE FROM documents WHERE id = $1", first.document["id"])
            racing = asyncio.create_task(accept())
            await eventually(  # the upload waits on the row being deleted
                lambda: watcher.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted")
            )
        again = await asyncio.wait_for(racing, 30)
    await watcher.close()
    assert not again.duplicate and again.document["id"] != first.document["id"]
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE payload->>'document_id' = $1",
                str(again.document["id"]),
            )
            == 1
        )
