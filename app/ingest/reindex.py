"""Startup's embedding-model check, and `python -m app reindex` which re-embeds everything.

The site keeps answering during a reindex: the new vectors go into columns beside the old
ones (app/db/embedding_model.py), filled in small transactions, and their HNSW index is built
concurrently; search reads the old column until one short transaction swaps the new one in.
An interrupted reindex with the same model resumes where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import numpy as np

from app.db import embedding_model as model_sql
from app.embedders import Embedder
from app.errors import ModelMismatch
from app.ingest.embed import embed_sorted

BATCH = 1024  # chunks read, embedded and written per step (one short transaction each)
# The swap waits this long for running queries to let go of `chunks`, then tries again
# (waiting longer would queue every new search behind it).
LOCK_TIMEOUT = "5s"
SWAP_ATTEMPTS = 12


async def check_model(conn: asyncpg.Connection, embedder: Embedder) -> None:
    """Record the model on first use; refuse a different one until reindex has run."""
    await model_sql.record_if_absent(conn, embedder.name, embedder.dimension)
    stored = await model_sql.get(conn)
    assert stored is not None
    if (stored["name"], stored["dimension"]) != (embedder.name, embedder.dimension):
        count = await model_sql.chunk_count(conn)
        raise ModelMismatch(
            f"the stored vectors come from {stored['name']} ({stored['dimension']} dimensions)"
            f" but the configured model is {embedder.name} ({embedder.dimension} dimensions):"
            f" run `python -m app reindex` to re-embed the {count} chunks with it, or set"
            " EMBEDDING_PROVIDER/EMBEDDING_MODEL back; mixing the two would ruin search"
        )


async def reindex(
    pool: asyncpg.Pool, embedder: Embedder, on_progress: Callable[[int, int], None]
) -> int:
    """Re-embed every chunk with `embedder`; search keeps the old vectors until the swap."""
    async with pool.acquire() as conn:
        # Building an HNSW index, or the swap's wait, outlasts DB_STATEMENT_TIMEOUT.
        await conn.execute("SET statement_timeout = 0")
        await model_sql.prepare_next(conn, embedder.name, embedder.dimension)
        total = await model_sql.chunk_count(conn)
        done = total - await model_sql.count_unembedded(conn)
        on_progress(done, total)
        done = await _fill(conn, embedder, done, total, on_progress)
        await model_sql.build_next_indexes(conn)
        # Chunks ingested meanwhile (by workers still on the old model) get theirs too.
        done = await _fill(conn, embedder, done, total, on_progress)
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            try:
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    # Writers wait (readers do not) while the last chunks are caught up.
                    await conn.execute("LOCK TABLE chunks IN EXCLUSIVE MODE")
                    done = await _fill(conn, embedder, done, total, on_progress)
                    await model_sql.swap_in(conn)
                    await model_sql.record(conn, embedder.name, embedder.dimension)
                break
            except asyncpg.LockNotAvailableError:
                if attempt == SWAP_ATTEMPTS:
                    raise
                done = await _fill(conn, embedder, done, total, on_progress)
        await model_sql.require_vectors(conn)
        await conn.execute("RESET statement_timeout")
    return done


async def _fill(
    conn: asyncpg.Connection,
    embedder: Embedder,
    done: int,
    total: int,
    on_progress: Callable[[int, int], None],
) -> int:
    """Give every chunk without one its new vector, BATCH at a time; the count done.

    Each batch is embedded while the one before it is written: the write moves every row it
    updates (the new vector does not fit beside it), so PostgreSQL inserts the row into the
    old vectors' HNSW index again, about as long as embedding it (2.4 ms a row at 20,000
    chunks; docs/retrieval.md, "Reindex: writing beside embedding")."""
    last_id = 0
    written: tuple[list[int], np.ndarray, list[bytes | None]] | None = None
    while True:
        rows = await model_sql.unembedded(conn, last_id, BATCH)
        embedding = (
            asyncio.ensure_future(embed_sorted(embedder, [r["text"] for r in rows]))
            if rows
            else None
        )
        try:
            if written is not None:
                await model_sql.stage(conn, *written)
                done += len(written[0])
                on_progress(done, max(total, done))
        except BaseException:
            if embedding is not None:
                embedding.cancel()
            raise
        if embedding is None:
            return done
        vectors, sentences = await embedding
        written = ([r["id"] for r in rows], vectors, sentences)
        last_id = rows[-1]["id"]
