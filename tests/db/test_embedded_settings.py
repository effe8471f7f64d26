"""The embedded server is sized to the machine, not left on PostgreSQL's 128 MB defaults."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from app.db.embedded import (
    MB,
    SETTINGS_FILE,
    machine_memory,
    sized_settings,
    start_embedded,
    stop_embedded,
)


def test_shared_buffers_are_a_quarter_of_memory_within_bounds() -> None:
    assert sized_settings(24 * 1024 * MB)["shared_buffers"] == "6144MB"
    assert sized_settings(256 * MB)["shared_buffers"] == "128MB"  # never below the default
    assert sized_settings(512 * 1024 * MB)["shared_buffers"] == "8192MB"


def test_an_embedded_server_runs_with_its_machines_sizes_after_each_start(tmp_path: Path) -> None:
    async def shared_buffers_bytes(url: str) -> int:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(
                "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'"
            )
        finally:
            await conn.close()

    want = int(sized_settings(machine_memory())["shared_buffers"].removesuffix("MB")) * MB
    for _ in range(2):  # a fresh data folder, then the same one started again
        server = start_embedded(tmp_path)
        try:
            assert asyncio.run(shared_buffers_bytes(server.get_uri())) == want
        finally:
            stop_embedded(server)
    conf = (tmp_path / "postgres" / "postgresql.conf").read_text()
    assert conf.count(SETTINGS_FILE) == 1
