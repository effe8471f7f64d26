"""The pool's connections: settings made when a connection opens outlive its first use."""

import asyncpg
import pytest

from app.db.pool import create_pool
from app.db.search import DEFAULT_TUNING


async def test_issue_reset_all_dropped_the_search_settings_after_first_use(settings):
    # asyncpg's default release runs RESET ALL: every search after a connection's first ran
    # with pgvector's default ef_search, and each release cost a round trip.
    pool = await create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        for _ in range(2):
            async with pool.acquire() as conn:
                ef_search = await conn.fetchval("SHOW hnsw.ef_search")
                scan = await conn.fetchval("SHOW hnsw.iterative_scan")
            assert (int(ef_search), scan) == (DEFAULT_TUNING.ef_search, "strict_order")
    finally:
        await pool.close()


async def test_a_connection_that_failed_as_broken_is_closed_not_reused(settings):
    # After a server shutdown a pooled connection could be left mid-operation; released with
    # no reset query, every request that got it failed with InternalClientError (a 500).
    pool = await create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        with pytest.raises(ValueError):
            async with pool.acquire() as conn:
                kept = conn.get_server_pid()
                raise ValueError("an ordinary error: the connection is fine")
        with pytest.raises(asyncpg.InternalClientError):
            async with pool.acquire() as conn:
                assert conn.get_server_pid() == kept
                raise asyncpg.InternalClientError("cannot switch to state 12")
        async with pool.acquire() as conn:
            assert conn.get_server_pid() != kept and await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


def test_a_connection_left_mid_operation_by_a_shutdown_is_the_outage_not_a_500():
    # bench/faults.py postgres_stopped: after the restart, requests on a pooled connection the
    # shutdown left mid-operation failed with InternalClientError, answered 500 (1 run in 3).
    from app.db import unavailable

    met = asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    )
    assert unavailable.is_unavailable(met)
    assert not unavailable.is_unavailable(ValueError("an ordinary error"))
