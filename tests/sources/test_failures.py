"""Failure paths of a sync: a root withdrawn, an item gone after the listing, a job taken over."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from app.db import jobs as job_sql
from app.db.pool import init_connection
from app.sources import Known, ListingError
from app.sources.folder import Folder
from app.sources.store import Lost, fence
from tests.helpers import claim_one
from tests.sources.conftest import add_folder, sync


async def test_a_root_withdrawn_stops_the_sync_and_deletes_nothing(
    running, roots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pool, _ = running
    folder = roots / "kept"
    folder.mkdir()
    (folder / "a.txt").write_text("Badgers dig setts in the woods.")
    source_id = await add_folder(pool, "kept", folder)
    assert (await sync(pool, source_id))["last_counts"]["added"] == 1
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("SOURCE_ROOTS", str(other))
    stopped = await sync(pool, source_id)
    assert "not under SOURCE_ROOTS" in stopped["last_error"]
    assert stopped["document_count"] == 1


async def test_an_item_gone_or_escaping_after_the_listing_is_refused(roots: Path, tmp_path: Path):
    folder = roots / "f"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    source = Folder(folder.resolve())
    assert [item.key for item in await source.list(Known())] == ["a.txt"]
    (folder / "a.txt").unlink()
    with pytest.raises(ListingError, match="out of the folder"):
        await source.fetch("a.txt")  # gone: it no longer resolves inside the root
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "a.txt").symlink_to(tmp_path / "secret.txt")  # swapped for a link outside
    with pytest.raises(ListingError, match="out of the folder"):
        await source.fetch("a.txt")
    with pytest.raises(ListingError, match="out of the folder"):
        await source.fetch("../../secret.txt")


async def test_a_sync_taken_over_writes_nothing_more(settings):
    conn = await asyncpg.connect(settings.database_url)
    try:
        await init_connection(conn)
        job_id = await job_sql.enqueue(conn, "sync", {"source_id": "0"})
        job = await claim_one(conn, lock_seconds=60, worker="test")
        assert job["id"] == job_id
        await fence(conn, job)  # held: no error
        # Its lock expired and another worker claimed it: the attempt moved on.
        await conn.execute("UPDATE jobs SET attempts = attempts + 1 WHERE id = $1", job_id)
        with pytest.raises(Lost):
            await fence(conn, job)
    finally:
        await conn.close()
