"""Find the passages that answer a question: scoped, cached, hybrid by default."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

import asyncpg
import numpy as np

from app.cache import Cache
from app.db import collections as collection_sql
from app.db import search as search_sql
from app.embedders import Embedder
from app.errors import NotFound

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


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    document_id: str
    title: str
    text: str
    snippet: str
    page: int | None
    heading_path: list[str]
    score: float

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "score": round(self.score, 6)}


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
) -> list[Passage]:
    """The k best chunks for the question within the scope."""
    scope = scope or Scope()
    async with pool.acquire() as conn:
        collections = await collection_sql.versions(conn, scope.collection)
    if scope.collection_ids is not None:
        collections = [c for c in collections if c["id"] in scope.collection_ids]
    if scope.collection is not None and not collections:
        raise NotFound(f"there is no collection {scope.collection!r}", code="unknown_collection")
    key = "search:" + _digest(
        mode, k, question, [tuple(c) for c in collections], scope.document_ids, asdict(tuning)
    )
    if cache is not None and (hit := await cache.get(key)) is not None:
        return [Passage(**p) for p in json.loads(hit)]

    async def _uncached() -> list[Passage]:
        vector = None if mode == "lexical" else await embed_query(embedder, question, cache)
        async with pool.acquire() as conn:
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
