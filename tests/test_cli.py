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
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_worker_on_an_unmigrated_database_says_to_migrate_in_one_line(empty_database):
    result = run("worker", env={"DATABASE_URL": empty_database})
    assert result.returncode == 1
    assert "python -m app migrate" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_database_that_is_not_there_is_one_line_not_a_traceback():
    # Nothing listens on port 1: the connection is refused at once.
    result = run("worker", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"})
    assert result.returncode == 1
    assert "could not connect to the database" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_serve_on_a_database_without_pgvector_stops_without_a_traceback():
    env = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres", "PORT": "0"}
    result = run("serve", env=env)
    if "could not connect" in result.stderr.lower():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    assert result.returncode != 0
    assert "pgvector" in result.stderr and "Traceback" not in result.stderr


def test_serve_on_a_busy_port_fails_at_once_without_loading_anything(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--port", str(port), env={"DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "already in use" in result.stderr
    assert "Open http" not in result.stdout
    assert not (tmp_path / "data").exists()  # no embedded database was started
