"""`python -m app sources add|list|sync`, run as people run them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import run


def test_sources_add_list_sync(settings, roots: Path):
    folder = roots / "kb"
    folder.mkdir()
    (folder / "a.txt").write_text("Kingfishers dive for fish.")
    (folder / "b.md").write_text("# Owls\n\nOwls hunt at night.")
    env = {"DATABASE_URL": settings.database_url, "SOURCE_ROOTS": str(roots)}

    added = run("sources", "add", "folder", "kb", str(folder), "--collection", "birds", env=env)
    assert added.returncode == 0, added.stderr
    listed = run("sources", "list", env=env)
    assert listed.returncode == 0 and listed.stdout.startswith("kb\tfolder\tbirds\ton demand")

    synced = run("sources", "sync", "kb", env=env)
    assert synced.returncode == 0, synced.stderr
    counts = json.loads(synced.stdout.strip().splitlines()[-1])
    assert {k: counts[k] for k in ("added", "changed", "removed", "unchanged")} == {
        "added": 2,
        "changed": 0,
        "removed": 0,
        "unchanged": 0,
    }
    assert counts["chunks_embedded"] == 2 and counts["chunks_kept"] == 0

    (folder / "a.txt").unlink()
    again = json.loads(run("sources", "sync", "kb", env=env).stdout.strip().splitlines()[-1])
    assert (again["removed"], again["unchanged"], again["chunks_embedded"]) == (1, 1, 0)


def test_sources_cli_refusals_in_words(settings, roots: Path, tmp_path: Path):
    env = {"DATABASE_URL": settings.database_url, "SOURCE_ROOTS": str(roots)}
    outside = run("sources", "add", "folder", "x", str(tmp_path), env=env)
    assert outside.returncode == 1 and "not under SOURCE_ROOTS" in outside.stderr
    off = run("sources", "add", "folder", "x", str(roots), env={**env, "SOURCE_ROOTS": ""})
    assert off.returncode == 1 and "SOURCE_ROOTS" in off.stderr
    unknown = run("sources", "sync", "nope", env=env)
    assert unknown.returncode == 1 and "no source named 'nope'" in unknown.stderr
    bad_every = run("sources", "add", "folder", "x", str(roots), "--every", "0", env=env)
    assert bad_every.returncode == 1 and "--every" in bad_every.stderr
