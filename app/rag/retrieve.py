"""Find the passages that answer a question: scoped, cached, hybrid by default."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any
from uuid import UUID

import asyncpg
import numpy as np

from app.backends.cache import Cache
from app.db import chunks as chunk_sql
from app.db import collections as collection_sql
from app.db import search as search_sql
from app.embedders import Embedder
from app.embedders.stored import sentence_vectors
from app.errors import NotFound
from app.llm.base import Passage
from app.rag.fusion import fuse
from app.rerankers import Reranker
from app.rerankers.base import RerankError
from app.text.language import readable_by

log = logging.getLogger(__name__)

EMBEDDING_TTL = 24 * 3600
# Results are keyed by the collections' versions, so a change is seen at once; the TTL
# only bounds memory.
RESULT_TTL = 600

# Searches under way, by result key: a burst of the same question (a class asking at once)
# is embedded and searched once, not once per request that missed the cache meanwhile.
_running: dict[str, asyncio.Future[list[Passage]]] = {}


@dataclass(frozen=True)
class Scope:
    """What to search: one collection (default: all) and optionally chosen documents."""

    collection: str | None = None
    document_ids: tuple[UUID, ...] = ()
    # The collections the caller may read (None: all); others are treated as absent.
    collection_ids: tuple[int, ...] | None = None


EVERYTHING = Scope()


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


async def embed_query(embedder: Embedder, text: str, cache: Cache | None = None) -> np.ndarray:
    """The query's embedding, from the cache when it has been seen before."""
    key = f"emb:{embedder.name}:{_digest(text)}"
    if cache is not None and (hit := await cache.get(key)) is not None:
        return np.frombuffer(hit, dtype=np.float32)
    vector = (await embedder.embed([text]))[0]
    if cache is not None:
        await cache.set(key, vector.astype(np.float32).tobytes(), EMBEDDING_TTL)
    return vector


async def search(
    pool: asyncpg.Pool,
    embedder: Embedder,
    question: str,
    k: int,
    *,
    scope: Scope | None = None,
    cache: Cache | None = None,
    mode: search_sql.Mode = "hybrid",
    tuning: search_sql.Tuning = search_sql.DEFAULT_TUNING,
    reranker: Reranker | None = None,
    rerank_candidates: int = 20,
) -> list[Passage]:
    """The k best chunks for the question within the scope (hybrid: reordered by the
    reranker, when one is configured, from the best `rerank_candidates` fused)."""
    scope = scope or Scope()
    async with pool.acquire() as conn:
        collections = await collection_sql.versions(conn, scope.collection)
    if scope.collection_ids is not None:
        collections = [c for c in collections if c["id"] in scope.collection_ids]
    if scope.collection is not None and not collections:
        raise NotFound(f"there is no collection {scope.collection!r}", code="unknown_collection")
    reranking = reranker is not None and mode == "hybrid"
    depth = max(k, rerank_candidates) if reranking else k
    # The embedder's name too: after a model change (reindex), a shared cache must not answer
    # with the ranking the old vectors gave.
    key = "search:" + _digest(
        embedder.name, mode, k, question, [tuple(c) for c in collections], scope.document_ids,
        asdict(tuning), reranker.name if reranking and reranker is not None else None, depth,
    )  # fmt: skip
    if cache is not None and (hit := await cache.get(key)) is not None:
        return [Passage(**p) for p in json.loads(hit)]

    async def _uncached() -> list[Passage]:
        vector = None if mode == "lexical" else await embed_query(embedder, question, cache)
        async with pool.acquire() as conn:
            if mode == "hybrid":
                rows = await hybrid_rows(
                    conn, embedder, question, vector, collections, scope, depth, tuning
                )
            else:
                rows = await search_sql.search(
                    conn,
                    mode=mode,
                    text=question,
                    embedding=vector,
                    collection_ids=[c["id"] for c in collections],
                    document_ids=list(scope.document_ids) or None,
                    limit=k,
                    tuning=tuning,
                )
        passages = [
            Passage(
                chunk_id=row["chunk_id"],
                document_id=str(row["document_id"]),
                title=row["title"],
                text=row["text"],
                snippet=row["snippet"],
                page=row["page"],
                heading_path=list(row["heading_path"]),
                score=row["score"],
            )
            for row in rows
        ]
        if reranking and reranker is not None:
            passages = await rerank(reranker, question, passages, k)
        if cache is not None:
            await cache.set(key, json.dumps([asdict(p) for p in passages]).encode(), RESULT_TTL)
        return passages

    running = _running.get(key)
    if running is None or running.get_loop() is not asyncio.get_running_loop():
        running = asyncio.ensure_future(_uncached())
        _running[key] = running
        running.add_done_callback(lambda _: _running.pop(key, None))
    # Shielded: one waiter that goes away must not cancel the search the others wait for.
    return list(await asyncio.shield(running))


async def stored_sentence_vectors(
    pool: asyncpg.Pool, dimension: int, passages: Sequence[Passage]
) -> list[np.ndarray | None]:
    """Each passage's sentence vectors as stored at ingestion (None where there are none)."""
    async with pool.acquire() as conn:
        stored = await chunk_sql.sentence_vectors(conn, [p.chunk_id for p in passages])
    return [sentence_vectors(stored.get(p.chunk_id), dimension) for p in passages]


async def hybrid_rows(
    conn: asyncpg.Connection,
    embedder: Embedder,
    question: str,
    vector: np.ndarray | None,
    collections: list[asyncpg.Record],
    scope: Scope,
    k: int,
    tuning: search_sql.Tuning,
) -> list[dict[str, Any]]:
    """The k best chunks by per-query fusion (app.rag.fusion) of both rankings."""
    candidates = await search_sql.candidates(
        conn,
        text=question,
        embedding=vector,
        collection_ids=[c["id"] for c in collections],
        document_ids=list(scope.document_ids) or None,
        limit=k,
        tuning=tuning,
    )
    fused = fuse(
        candidates, vector_covers=readable_by(getattr(embedder, "scripts", None), question)
    )
    best = fused.ranked[:k]
    found = {
        r["chunk_id"]: r
        for r in await search_sql.details(conn, ids=[c for c, _ in best], text=question)
    }
    return [{**found[c], "score": score} for c, score in best if c in found]


async def rerank(
    reranker: Reranker, question: str, passages: list[Passage], k: int
) -> list[Passage]:
    """The k passages the reranker scores best; the fused order if it fails."""
    try:
        scores = await reranker.score(question, [p.text for p in passages])
    except RerankError as exc:
        log.warning("reranking skipped: %s", exc)
        return passages[:k]
    order = sorted(range(len(passages)), key=lambda i: -scores[i])[:k]
    return [replace(passages[i], score=scores[i]) for i in order]
