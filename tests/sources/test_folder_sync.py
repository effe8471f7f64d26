"""A real folder changed between syncs: edit, rename, delete, add, a symlink escaping the
root, and the folder gone; only the chunks that changed are embedded again."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from app.sources import SourceSettingsError, settings_for
from tests.sources.conftest import add_folder, sync

PARAGRAPHS = [
    f"Paragraph {n} of the manual: the {topic} needs care, and the steps for it are "
    f"written here in full so that each paragraph is long enough to count ({n})."
    for n, topic in enumerate(
        ["pump", "valve", "filter", "boiler", "fan", "duct", "sensor", "relay"] * 8
    )
]


def manual(paragraphs: list[str]) -> str:
    sections = []
    for part in range(4):
        body = "\n\n".join(paragraphs[part * 16 : (part + 1) * 16])
        sections.append(f"# Part {part}\n\n{body}")
    return "\n\n".join(sections) + "\n"


async def chunk_ids(pool: Any, source: str) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT c.id, c.text FROM chunks c JOIN documents d ON d.id = c.document_id
               WHERE d.source = $1""",
            source,
        )
    return {row["text"]: row["id"] for row in rows}


async def bm25_exact(pool: Any) -> bool:
    """The collection's BM25 statistics equal a count over its chunks."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT col.chunk_count = s.n AND col.total_length = s.len AS exact
               FROM collections col,
                    (SELECT count(*) AS n, coalesce(sum(lexeme_count(tsv)), 0) AS len
                     FROM chunks WHERE collection_id = 1) s
               WHERE col.id = 1"""
        )
        postings = await conn.fetchval(
            "SELECT count(*) FROM postings p WHERE NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.id = p.chunk_id)"
        )
    return bool(row["exact"]) and postings == 0


async def test_a_folder_changed_between_syncs(running, roots: Path, tmp_path: Path):
    pool, _ = running
    folder = roots / "handbook"
    (folder / "sub").mkdir(parents=True)
    paragraphs = list(PARAGRAPHS)
    (folder / "manual.md").write_text(manual(paragraphs))
    (folder / "tea.txt").write_text("Tea grows on hills in the rain.")
    (folder / "sub" / "wind.txt").write_text("Wind turbines turn in the sea breeze.")
    (folder / "skipped.xyz").write_text("not a document type")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("The vault code is swordfish.")
    (folder / "leak.txt").symlink_to(outside / "secret.txt")
    (folder / "sub" / "out").symlink_to(outside, target_is_directory=True)
    source_id = await add_folder(pool, "handbook", folder)

    first = await sync(pool, source_id)
    assert first["last_error"] is None
    counts = first["last_counts"]
    assert (counts["added"], counts["changed"], counts["removed"]) == (3, 0, 0)
    assert counts["chunks_kept"] == 0 and counts["chunks_embedded"] >= 6
    async with pool.acquire() as conn:
        sources = {r["source"] for r in await conn.fetch("SELECT source FROM documents")}
        leaked = await conn.fetchval("SELECT count(*) FROM chunks WHERE text LIKE '%swordfish%'")
    assert sources == {"manual.md", "tea.txt", "sub/wind.txt"}
    assert leaked == 0
    assert await bm25_exact(pool)
    before = await chunk_ids(pool, "manual.md")

    # Edit one paragraph in the middle, rename one file, delete one, add one.
    paragraphs[20] = "Paragraph 20 now says the fan must be cleaned every week, not monthly."
    (folder / "manual.md").write_text(manual(paragraphs))
    os.rename(folder / "tea.txt", folder / "tea-notes.txt")
    (folder / "sub" / "wind.txt").unlink()
    (folder / "solar.txt").write_text("Solar panels turn light into power.")
    second = (await sync(pool, source_id))["last_counts"]
    assert (second["added"], second["changed"], second["removed"]) == (2, 1, 2)
    after = await chunk_ids(pool, "manual.md")
    changed = set(after) - set(before)
    assert any("every week" in text for text in changed)
    # Boundaries are anchored: the edit touches the chunks around it, not every later one.
    assert len(changed) <= 2 < len(after)
    assert second["chunks_embedded"] == len(changed) + 2  # the manual's, plus two one-chunk files
    for text, chunk_id in after.items():
        if text in before:
            assert before[text] == chunk_id  # same row, same vector
    assert await bm25_exact(pool)

    third = (await sync(pool, source_id))["last_counts"]
    assert third == {
        "added": 0,
        "changed": 0,
        "removed": 0,
        "unchanged": 3,
        "chunks_embedded": 0,
        "chunks_kept": 0,
    }

    # The folder becomes unreachable: the error is shown, nothing is deleted.
    os.rename(folder, roots / "moved-away")
    failed = await sync(pool, source_id)
    assert "listing failed" in failed["last_error"] and "does not exist" in failed["last_error"]
    assert failed["document_count"] == 3
    assert failed["last_counts"] == third


async def test_same_content_in_two_items_and_in_an_upload(running, roots: Path):
    """Identity is (source, item key): two files with the same bytes are two documents."""
    pool, _ = running
    folder = roots / "twins"
    folder.mkdir()
    (folder / "a.txt").write_text("Identical text about otters.")
    (folder / "b.txt").write_text("Identical text about otters.")
    source_id = await add_folder(pool, "twins", folder)
    counts = (await sync(pool, source_id))["last_counts"]
    assert counts["added"] == 2
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM documents WHERE status = 'ready'") == 2


async def test_an_unreadable_item_is_a_failed_document_and_not_parsed_again(running, roots: Path):
    pool, _ = running
    folder = roots / "broken"
    folder.mkdir()
    (folder / "empty.txt").write_text("   \n")
    source_id = await add_folder(pool, "broken", folder)
    assert (await sync(pool, source_id))["last_counts"]["added"] == 1
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, error FROM documents")
    assert row["status"] == "failed" and "is empty" in row["error"]
    assert (await sync(pool, source_id))["last_counts"]["unchanged"] == 1


def test_folder_outside_source_roots_refused(roots: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(SourceSettingsError, match="not under SOURCE_ROOTS"):
        settings_for("folder", {"path": str(elsewhere)})
    with pytest.raises(SourceSettingsError, match="not under SOURCE_ROOTS"):
        settings_for("folder", {"path": str(roots / ".." / "elsewhere")})
    with pytest.raises(SourceSettingsError, match="not a usable path"):
        settings_for("folder", {"path": str(roots) + "/a\x00b"})
    (roots / "link").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(SourceSettingsError, match="not under SOURCE_ROOTS"):
        settings_for("folder", {"path": str(roots / "link")})


def test_folder_sources_off_without_source_roots(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.delenv("SOURCE_ROOTS", raising=False)
    with pytest.raises(SourceSettingsError, match="SOURCE_ROOTS"):
        settings_for("folder", {"path": str(tmp_path)})
