"""The command line as people run it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.db.migrate import migration_files

ROOT = Path(__file__).resolve().parent.parent


def run(
    *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        input=input,
    )


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("serve", "migrate", "worker"):
        assert command in result.stdout


def test_bad_setting_stops_with_the_variable_name():
    result = run("serve", env={"MAX_UPLOAD_MB": "lots"})
    assert result.returncode == 2
    assert "MAX_UPLOAD_MB" in result.stderr and "lots" in result.stderr


def test_migrate_command_against_a_database(empty_database):
    first = run("migrate", env={"DATABASE_URL": empty_database})
    assert first.returncode == 0, first.stderr
    names = [path.stem for path in migration_files()]
    assert f"applied {len(names)} migration(s): {', '.join(names)}" in first.stdout
    second = run("migrate", env={"DATABASE_URL": empty_database})
    assert second.returncode == 0 and "up to date" in second.stdout


def test_migrate_refuses_a_database_without_pgvector():
    result = run("migrate", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres"})
    if (
        "could not connect" in result.stderr.lower()
        or "connection refused" in result.stderr.lower()
    ):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    assert result.returncode == 1
    assert "pgvector" in result.stderr and "Traceback" not in result.stderr
