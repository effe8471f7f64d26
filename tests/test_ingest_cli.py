"""`python -m app ingest` and `python -m app reindex`, run as people run them."""

import asyncio

import asyncpg
import pytest

from tests import files
from tests.helpers import SOLAR_GUIDE
from tests.test_cli import run


async def _fetch(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def fetch(url: str, sql: str) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(url, sql))


@pytest.fixture
def forget_model(settings):
    yield
    asyncio.run(_fetch(settings.database_url, "DELETE FROM embedding_model"))


def test_ingest_files_and_folders(settings, tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "solar.md").write_text(SOLAR_GUIDE)
    (folder / "sub" / "page.html").write_bytes(files.html_page("<p>Wind turbines.</p>"))
    (folder / "sub" / "skipped.xyz").write_text("not a document type")
    (folder / "binary.txt").write_bytes(bytes(range(256)))
    single = tmp_path / "notes.txt"
    single.write_text("Tea grows on hills.")
    env = {"DATABASE_URL": settings.database_url}

    first = run("ingest", str(folder), str(single), env=env)
    assert first.returncode == 1, first.stderr  # one file was refused, and said so
    assert "ingested 3, already stored 0, failed 1" in first.stdout
    assert "binary.txt" in first.stderr and "binary" in first.stderr
    rows = fetch(settings.database_url, "SELECT source, status FROM documents ORDER BY source")
    assert [(r["source"], r["status"]) for r in rows] == [
        ("notes.txt", "ready"),
        ("page.html", "ready"),
        ("solar.md", "ready"),
    ]
    again = run("ingest", str(single), env=env)
    assert again.returncode == 0 and "already stored 1" in again.stdout


def test_a_model_change_is_refused_until_reindex(settings, tmp_path, forget_model):
    env = {"DATABASE_URL": settings.database_url}
    (tmp_path / "solar.md").write_text(SOLAR_GUIDE)
    assert run("ingest", str(tmp_path), env=env).returncode == 0
    before = fetch(settings.database_url, "SELECT id, embedding::text AS e FROM chunks")
    # Pretend the stored vectors came from another model.
    fetch(settings.database_url, "UPDATE embedding_model SET name = 'older-model'")
    fetch(settings.database_url, "UPDATE chunks SET embedding = array_fill(0.1, ARRAY[384])")

    refused = run("worker", env=env)
    assert refused.returncode == 1
    assert "older-model" in refused.stderr and "python -m app reindex" in refused.stderr

    reindexed = run("reindex", env=env)
    assert reindexed.returncode == 0, reindexed.stderr
    assert f"re-embedded {len(before)} chunks" in reindexed.stdout
    [model] = fetch(settings.database_url, "SELECT name, dimension FROM embedding_model")
    assert model["name"] != "older-model" and model["dimension"] == 384
    after = fetch(settings.database_url, "SELECT id, embedding::text AS e FROM chunks")
    # The same model again gives the same vectors as the first ingestion, not the fake ones.
    assert sorted(after) == sorted(before)
