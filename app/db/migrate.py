"""Forward-only plain-SQL migrations: migrations/NNNN_name.sql, applied in order, once."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

from app.errors import DatabaseSetupError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# Any constant works; it only has to be the same for every process that migrates.
ADVISORY_LOCK_ID = 7_241_001


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


async def check_pgvector(conn: asyncpg.Connection) -> None:
    available = await conn.fetchval(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
    )
    if not available:
        version = await conn.fetchval("SHOW server_version")
        raise DatabaseSetupError(
            f"PostgreSQL {version} at this DATABASE_URL has no 'vector' extension (pgvector). "
            "Install pgvector on that server (Debian: postgresql-NN-pgvector), "
            "or unset DATABASE_URL to use the embedded PostgreSQL that ships with it."
        )


async def applied_versions(conn: asyncpg.Connection) -> set[str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}


async def pending(conn: asyncpg.Connection) -> list[str]:
    """Names of the migration files not yet applied."""
    done = await applied_versions(conn)
    return [path.stem for path in migration_files() if path.stem not in done]


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations under an advisory lock; return the ones applied."""
    await check_pgvector(conn)
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = await applied_versions(conn)
        applied = []
        for path in migration_files():
            if path.stem in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", path.stem)
            log.info("applied migration %s", path.name)
            applied.append(path.stem)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)
