"""Which embedding model produced the stored vectors (one row), and re-embedding them."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import numpy as np


async def get(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT name, dimension FROM embedding_model")


async def record(conn: asyncpg.Connection, name: str, dimension: int) -> None:
    await conn.execute(
        """INSERT INTO embedding_model (name, dimension) VALUES ($1, $2)
           ON CONFLICT (singleton)
           DO UPDATE SET name = $1, dimension = $2, updated_at = now()""",
        name,
        dimension,
    )


async def record_if_absent(conn: asyncpg.Connection, name: str, dimension: int) -> None:
    await conn.execute(
        """INSERT INTO embedding_model (name, dimension) VALUES ($1, $2)
           ON CONFLICT (singleton) DO NOTHING""",
        name,
        dimension,
    )


async def chunk_count(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM chunks")


async def chunk_texts_after(
    conn: asyncpg.Connection, after_id: int, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, text FROM chunks WHERE id > $1 ORDER BY id LIMIT $2", after_id, limit
    )


async def create_staging(conn: asyncpg.Connection) -> None:
    """A session-local table for new vectors, filled before the one swapping transaction."""
    await conn.execute(
        """CREATE TEMP TABLE IF NOT EXISTS reindexed
           (id bigint PRIMARY KEY, embedding real[], sentence_vectors bytea)"""
    )


async def stage(
    conn: asyncpg.Connection,
    ids: Sequence[int],
    vectors: np.ndarray,
    sentence_vectors: Sequence[bytes | None],
) -> None:
    await conn.copy_records_to_table(
        "reindexed",
        columns=("id", "embedding", "sentence_vectors"),
        records=[
            (i, v.tolist(), s) for i, v, s in zip(ids, vectors, sentence_vectors, strict=True)
        ],
    )


async def unstaged(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Chunks written since staging began (by a worker still running the old model)."""
    return await conn.fetch(
        "SELECT c.id, c.text FROM chunks c LEFT JOIN reindexed r USING (id) WHERE r.id IS NULL"
    )


async def swap_in(conn: asyncpg.Connection, dimension: int) -> None:
    """Replace every chunk's vector with its staged one (inside the caller's transaction).

    A new dimension means a new column (and HNSW index), since vector(n) is fixed.
    """
    # Rewriting every vector and building the HNSW index can outlast the pool's
    # DB_STATEMENT_TIMEOUT; this transaction alone runs without one.
    await conn.execute("SET LOCAL statement_timeout = 0")
    current = await conn.fetchval(
        """SELECT atttypmod FROM pg_attribute
           WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'"""
    )
    if current != dimension:
        await conn.execute("DROP INDEX IF EXISTS chunks_embedding_idx")
        await conn.execute("ALTER TABLE chunks DROP COLUMN embedding")
        # The dimension is an int from the model, never user text; DDL takes no parameters.
        await conn.execute(f"ALTER TABLE chunks ADD COLUMN embedding vector({int(dimension)})")
    await conn.execute(
        """UPDATE chunks SET embedding = r.embedding::vector, sentence_vectors = r.sentence_vectors
           FROM reindexed r WHERE r.id = chunks.id"""
    )
    if current != dimension:
        await conn.execute("ALTER TABLE chunks ALTER COLUMN embedding SET NOT NULL")
        await conn.execute(
            """CREATE INDEX chunks_embedding_idx ON chunks
               USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128)"""
        )
