"""The asyncpg pool, with codecs for jsonb and pgvector registered on every connection."""

from __future__ import annotations

import json

import asyncpg
from pgvector.asyncpg import register_vector

from app.db.search import DEFAULT_TUNING, apply_session_settings
from app.errors import ServiceUnavailable


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register the jsonb and pgvector codecs (for connections opened outside the pool)."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await register_vector(conn)
    await apply_session_settings(conn, DEFAULT_TUNING)


async def keep_session(conn: asyncpg.Connection) -> None:
    """What a released connection needs beyond asyncpg's own cleanup (an open transaction is
    rolled back, listeners dropped): nothing. The default RESET ALL undid init_connection's
    settings after a connection's first use, and cost a round trip per release."""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool; the schema must already be migrated (the vector type must exist)."""
    try:
        return await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=init_connection, reset=keep_session
        )
    except ValueError as exc:  # pgvector's codec: the vector type does not exist
        raise ServiceUnavailable(
            "the database has no 'vector' type: run `python -m app migrate` first"
        ) from exc
