"""Which embedding model produced the stored vectors (one row), and re-embedding them."""

from __future__ import annotations

import re
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


# New vectors are written beside the old ones, in these columns of `chunks`, and swapped in
# at the end; until then search reads `embedding` as before.
NEXT, NEXT_SENTENCES = "embedding_next", "sentence_vectors_next"


async def prepare_next(conn: asyncpg.Connection, name: str, dimension: int) -> bool:
    """Add the columns for the new model's vectors; keep those an interrupted reindex with
    the same model left (it resumes). True when it resumes."""
    current = await conn.fetchrow(
        """SELECT atttypmod, col_description(attrelid, attnum) AS model FROM pg_attribute
           WHERE attrelid = 'chunks'::regclass AND attname = $1 AND NOT attisdropped""",
        NEXT,
    )
    if current is not None and (current["atttypmod"], current["model"]) == (dimension, name):
        return True
    await drop_next(conn)
    # The dimension is an int from the model, never user text; DDL takes no parameters.
    await conn.execute(
        f"""ALTER TABLE chunks ADD COLUMN {NEXT} vector({int(dimension)}),
                               ADD COLUMN {NEXT_SENTENCES} bytea,
                               ALTER COLUMN {NEXT} SET STORAGE MAIN"""
    )  # inline, as migration 0029 keeps `embedding`
    literal = await conn.fetchval("SELECT quote_literal($1)", name)
    await conn.execute(f"COMMENT ON COLUMN chunks.{NEXT} IS {literal}")
    return False


async def drop_next(conn: asyncpg.Connection) -> None:
    await conn.execute(
        f"ALTER TABLE chunks DROP COLUMN IF EXISTS {NEXT}, DROP COLUMN IF EXISTS {NEXT_SENTENCES}"
    )


async def count_unembedded(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(f"SELECT count(*) FROM chunks WHERE {NEXT} IS NULL")


async def unembedded(conn: asyncpg.Connection, after_id: int, limit: int) -> list[asyncpg.Record]:
    """Chunks without a new vector yet, in id order from `after_id`."""
    return await conn.fetch(
        f"SELECT id, text FROM chunks WHERE {NEXT} IS NULL AND id > $1 ORDER BY id LIMIT $2",
        after_id,
        limit,
    )


async def stage(
    conn: asyncpg.Connection,
    ids: Sequence[int],
    vectors: np.ndarray,
    sentence_vectors: Sequence[bytes | None],
) -> None:
    """Write new vectors beside the old ones (COPY to a session table, then one UPDATE)."""
    await conn.execute(
        """CREATE TEMP TABLE IF NOT EXISTS reindexed
           (id bigint PRIMARY KEY, embedding real[], sentence_vectors bytea)"""
    )
    await conn.copy_records_to_table(
        "reindexed",
        columns=("id", "embedding", "sentence_vectors"),
        records=[
            (i, v.tolist(), s) for i, v, s in zip(ids, vectors, sentence_vectors, strict=True)
        ],
    )
    await conn.execute(
        f"""UPDATE chunks SET {NEXT} = r.embedding::vector, {NEXT_SENTENCES} = r.sentence_vectors
            FROM reindexed r WHERE r.id = chunks.id"""
    )
    await conn.execute("TRUNCATE reindexed")


async def vector_indexes(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The indexes of `chunks` on its `embedding` column (name and definition)."""
    return await conn.fetch(
        r"""SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attname = 'embedding'
           WHERE x.indrelid = 'chunks'::regclass
             AND (a.attnum = ANY(x.indkey)
                  OR pg_get_indexdef(x.indexrelid) ~ '\membedding\M')"""
    )


def next_name(index: str) -> str:
    return f"{index[:50]}_next"


async def build_next_indexes(conn: asyncpg.Connection) -> None:
    """The same indexes on the new column, built without blocking reads or writes."""
    for index in await vector_indexes(conn):
        name = next_name(index["name"])
        # The definition comes from the catalog (pg_get_indexdef), never from user text.
        definition = re.sub(r"\bembedding\b", NEXT, index["definition"])
        definition = definition.replace(
            f"INDEX {index['name']} ON", f"INDEX CONCURRENTLY {name} ON", 1
        )
        # A build that failed before leaves an invalid index of that name behind.
        await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        await conn.execute(definition)


async def swap_in(conn: asyncpg.Connection) -> None:
    """Make the new vectors `embedding` (inside the caller's transaction, once every chunk
    has one): readers wait only for these catalog changes, not for any rewrite."""
    indexes = await vector_indexes(conn)
    await conn.execute("ALTER TABLE chunks DROP COLUMN embedding, DROP COLUMN sentence_vectors")
    await conn.execute(f"ALTER TABLE chunks RENAME COLUMN {NEXT} TO embedding")
    await conn.execute(f"ALTER TABLE chunks RENAME COLUMN {NEXT_SENTENCES} TO sentence_vectors")
    await conn.execute("COMMENT ON COLUMN chunks.embedding IS NULL")
    for index in indexes:  # dropped with the old column: the new ones take their names
        await conn.execute(f"ALTER INDEX {next_name(index['name'])} RENAME TO {index['name']}")


async def require_vectors(conn: asyncpg.Connection) -> None:
    """embedding NOT NULL again, as the schema has it, without a scan under an exclusive
    lock: a CHECK validated beside reads and writes lets SET NOT NULL skip its scan."""
    await conn.execute(
        """ALTER TABLE chunks ADD CONSTRAINT chunks_embedding_present
           CHECK (embedding IS NOT NULL) NOT VALID"""
    )
    await conn.execute("ALTER TABLE chunks VALIDATE CONSTRAINT chunks_embedding_present")
    await conn.execute("ALTER TABLE chunks ALTER COLUMN embedding SET NOT NULL")
    await conn.execute("ALTER TABLE chunks DROP CONSTRAINT chunks_embedding_present")
