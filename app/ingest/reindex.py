"""Startup's embedding-model check, and `python -m app reindex` which re-embeds everything."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from app.db import embedding_model as model_sql
from app.embedders import Embedder
from app.errors import ModelMismatch
from app.ingest.embed import embed_sorted

BATCH = 1024


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
    """Re-embed every chunk with `embedder`; search keeps the old vectors until the commit."""
    async with pool.acquire() as conn:
        total = await model_sql.chunk_count(conn)
        await model_sql.create_staging(conn)
        done, last_id = 0, 0
        while rows := await model_sql.chunk_texts_after(conn, last_id, BATCH):
            vectors, sentences = await embed_sorted(embedder, [r["text"] for r in rows])
            await model_sql.stage(conn, [r["id"] for r in rows], vectors, sentences)
            last_id = rows[-1]["id"]
            done += len(rows)
            on_progress(done, max(total, done))
        async with conn.transaction():
            # Writers wait (readers do not) while the last chunks are caught up and swapped.
            await conn.execute("LOCK TABLE chunks IN EXCLUSIVE MODE")
            if late := await model_sql.unstaged(conn):
                vectors, sentences = await embed_sorted(embedder, [r["text"] for r in late])
                await model_sql.stage(conn, [r["id"] for r in late], vectors, sentences)
                done += len(late)
            await model_sql.swap_in(conn, embedder.dimension)
            await model_sql.record(conn, embedder.name, embedder.dimension)
        await conn.execute("DROP TABLE reindexed")
    return done
