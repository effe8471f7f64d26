import asyncio

import asyncpg
import pytest

from app.db.migrate import DatabaseSetupError, migrate, migration_files, pending


async def test_migrations_apply_to_an_empty_database_then_rerun_as_noop(empty_database):
    conn = await asyncpg.connect(empty_database)
    try:
        assert await pending(conn) == [p.stem for p in migration_files()]
        applied = await migrate(conn)
        assert applied == [p.stem for p in migration_files()]
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        assert {"documents", "chunks", "jobs", "conversations", "messages"} <= tables
        assert await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname='vector'")
        assert await migrate(conn) == []
        assert await pending(conn) == []
        recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert recorded == len(migration_files())
    finally:
        await conn.close()


async def test_two_concurrent_migrations_apply_each_file_once(empty_database):
    conns = [await asyncpg.connect(empty_database) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = [name for result in results for name in result]
        assert sorted(applied) == [p.stem for p in migration_files()]
    finally:
        for conn in conns:
            await conn.close()


async def _connect_to_machine_postgres():
    try:
        return await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres", timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL without pgvector on 127.0.0.1:5432 ({exc})")


async def test_database_without_pgvector_gets_a_clear_error():
    conn = await _connect_to_machine_postgres()
    try:
        if await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name='vector'"):
            pytest.skip("this PostgreSQL has pgvector")
        with pytest.raises(DatabaseSetupError, match="pgvector") as caught:
            await migrate(conn)
        assert "unset DATABASE_URL" in str(caught.value)
    finally:
        await conn.close()
