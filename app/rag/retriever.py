"""The one Retriever: search, answers (SSE, WebSocket, /v1) and eval all rank through it.

A question is searched within a scope resolved once (`resolve_scope`, which also answers
whether a named collection exists and may be read), by one fusion (app.rag.fusion) and one
optional reranker; results are cached by the collections' versions. Eval calls the same
`retrieve`, so what it measures is what users get.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal
from uuid import UUID

import asyncpg
import numpy as np

from app.backends.cache import Cache
from app.db import chunks as chunk_sql
from app.db import collections as collection_sql
from app.db import lexicon as lexicon_sql
from app.db import search as search_sql
from app.db.search import DEFAULT_TUNING, Tuning
from app.embedders import Embedder
from app.embedders.stored import sentence_vectors
from app.errors import NotFound
from app.llm.base import Passage, Turn
from app.rag.followup import Followup, followup_of
from app.rag.fusion import fuse, share_for
from app.rag.snippets import snippet
from app.rerankers import Reranker
from app.rerankers.base import RerankError
from app.text.language import readable_by

log = logging.getLogger(__name__)

Mode = Literal["lexical", "vector", "hybrid"]
EMBEDDING_TTL = 24 * 3600
# Results are keyed by the collections' versions, so a change is seen at once; the TTL
# only bounds memory.
RESULT_TTL = 600

__all__ = ["EVERYTHING", "Mode", "Passage", "Retrieval", "Retriever", "Scope", "resolve_scope"]


@dataclass(frozen=True)
class Scope:
    """What to search: one collection (default: all) and optionally chosen documents."""

    collection: str | None = None
    document_ids: tuple[UUID, ...] = ()
    # The collections the caller may read (None: all); others are treated as absent.
    collection_ids: tuple[int, ...] | None = None


EVERYTHING = Scope()


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]  # best first
    query: str  # text actually searched (a follow-up may be expanded)
    vector: np.ndarray | None  # query embedding used (None in lexical mode)
    # What decided the first hybrid result (app.rag.fusion's Fused.choice); "" otherwise.
    choice: str = ""
    collection_ids: tuple[int, ...] = ()  # the collections searched (the scope, resolved)


async def resolve_scope(conn: asyncpg.Connection, scope: Scope) -> list[asyncpg.Record]:
    """The scope's collections (id, version) the caller may read; NotFound when a named
    collection does not exist or may not be read (the two look alike on purpose)."""
    collections = await collection_sql.versions(conn, scope.collection)
    if scope.collection_ids is not None:
        collections = [c for c in collections if c["id"] in scope.collection_ids]
    if scope.collection is not None and not collections:
        raise NotFound(f"there is no collection {scope.collection!r}", code="unknown_collection")
    return collections


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


@dataclass
class Retriever:
    """Scoped, cached, hybrid retrieval with optional reranking."""

    pool: asyncpg.Pool
    embedder: Embedder
    cache: Cache | None = None
    reranker: Reranker | None = None  # reorders the fused results (RERANK_PROVIDER)
    rerank_candidates: int = 20
    tuning: Tuning = DEFAULT_TUNING
    # Searches under way, by result key: a burst of the same question (a class asking at
    # once) is embedded and searched once, not once per request that missed the cache.
    _running: dict[str, asyncio.Future[Retrieval]] = field(
        default_factory=dict, init=False, repr=False
    )

    async def embed(self, text: str) -> np.ndarray:
        """The text's embedding, from the cache when it has been seen before."""
        key = f"emb:{self.embedder.name}:{_digest(text)}"
        if self.cache is not None and (hit := await self.cache.get(key)) is not None:
            return np.frombuffer(hit, dtype=np.float32)
        vector = (await self._embed_queries([text]))[0]
        if self.cache is not None:
            await self.cache.set(key, vector.astype(np.float32).tobytes(), EMBEDDING_TTL)
        return vector

    async def warm(self, texts: Sequence[str], batch: int = 64) -> None:
        """Embed many queries at once into the cache (eval: one batch, not one per query)."""
        if self.cache is None:
            return
        for offset in range(0, len(texts), batch):
            part = list(texts[offset : offset + batch])
            for text, vector in zip(part, await self._embed_queries(part), strict=True):
                key = f"emb:{self.embedder.name}:{_digest(text)}"
                await self.cache.set(key, vector.astype(np.float32).tobytes(), EMBEDDING_TTL)

    async def _embed_queries(self, texts: list[str]) -> np.ndarray:
        """Queries' vectors: an asymmetric model (E5) embeds a query unlike a passage."""
        embed = getattr(self.embedder, "embed_queries", None) or self.embedder.embed
        return await embed(texts)

    async def retrieve(
        self,
        question: str,
        *,
        scope: Scope = EVERYTHING,
        k: int = 5,
        history: Sequence[Turn] = (),
        mode: Mode = "hybrid",
        rerank: bool = True,
    ) -> Retrieval:
        """The k best passages for the question within the scope (hybrid: reordered by the
        reranker, when one is configured and `rerank` is on, from the best
        `rerank_candidates` fused). With `history`, the earlier questions' terms join the
        search at a lower weight."""
        async with self.pool.acquire() as conn:
            collections = await resolve_scope(conn, scope)
        followup = followup_of(question, history, self.tuning.context_weight)
        reranking = rerank and self.reranker is not None and mode == "hybrid"
        depth = max(k, self.rerank_candidates) if reranking else k
        # The embedder's name too: after a model change (reindex), a shared cache must not
        # answer with the ranking the old vectors gave.
        key = "search:" + _digest(
            self.embedder.name, mode, k, question, followup.context,
            [tuple(c) for c in collections], scope.document_ids, asdict(self.tuning),
            self.reranker.name if reranking and self.reranker is not None else None, depth,
        )  # fmt: skip
        running = self._running.get(key)
        if running is None or running.get_loop() is not asyncio.get_running_loop():
            running = asyncio.ensure_future(
                self._search(followup, collections, scope, k, depth, mode, reranking, key)
            )
            self._running[key] = running
            running.add_done_callback(lambda _: self._running.pop(key, None))
        # Shielded: one waiter that goes away must not cancel the search the others wait for.
        return await asyncio.shield(running)

    async def _search(
        self,
        followup: Followup,
        collections: list[asyncpg.Record],
        scope: Scope,
        k: int,
        depth: int,
        mode: Mode,
        reranking: bool,
        key: str,
    ) -> Retrieval:
        vector = None if mode == "lexical" else await self._query_vector(followup)
        ids = [c["id"] for c in collections]
        if self.cache is not None and (hit := await self.cache.get(key)) is not None:
            cached = json.loads(hit)
            passages = [Passage(**p) for p in cached["passages"]]
            return Retrieval(passages, followup.query, vector, cached["choice"], tuple(ids))
        choice = ""
        documents = list(scope.document_ids) or None
        if mode == "hybrid":
            candidates = await search_sql.candidates(
                self.pool, text=followup.question, embedding=vector, collection_ids=ids,
                document_ids=documents, limit=depth, tuning=self.tuning,
                context=followup.context, context_weight=followup.weight,
            )  # fmt: skip
            fused = fuse(
                candidates,
                vector_covers=readable_by(
                    getattr(self.embedder, "scripts", None), followup.question
                ),
                limit=max(self.tuning.candidates, depth),
                vector_share=share_for(
                    getattr(self.embedder, "languages", None),
                    followup.question,
                    self.tuning.vector_share,
                ),
            )
            best, choice = fused.ranked[:depth], fused.choice
            async with self.pool.acquire() as conn:
                found = {
                    r["chunk_id"]: r
                    for r in await search_sql.details(conn, ids=[c for c, _ in best])
                }
            rows = [{**found[c], "score": score} for c, score in best if c in found]
        else:
            async with self.pool.acquire() as conn:
                rows = await search_sql.search(
                    conn, mode=mode, text=followup.question, embedding=vector,
                    collection_ids=ids, document_ids=documents, limit=k, tuning=self.tuning,
                    context=followup.context, context_weight=followup.weight,
                )  # fmt: skip
        passages = [_passage(row, followup.question) for row in rows]
        if reranking and self.reranker is not None:
            passages = await self._rerank(followup.question, passages, k)
        passages = passages[:k]
        if self.cache is not None:
            value = {"passages": [asdict(p) for p in passages], "choice": choice}
            await self.cache.set(key, json.dumps(value).encode(), RESULT_TTL)
        return Retrieval(passages, followup.query, vector, choice, tuple(ids))

    async def _query_vector(self, followup: Followup) -> np.ndarray:
        """The question's embedding, leaning toward the earlier questions' for a follow-up."""
        vector = await self.embed(followup.question)
        if not followup.context:
            return vector
        mixed = vector + followup.weight * await self.embed(followup.context)
        return (mixed / (np.linalg.norm(mixed) or 1.0)).astype(np.float32)

    async def _rerank(self, question: str, passages: list[Passage], k: int) -> list[Passage]:
        """The k passages the reranker scores best; the fused order if it fails."""
        assert self.reranker is not None
        try:
            scores = await self.reranker.score(question, [p.text for p in passages])
        except RerankError as exc:
            log.warning("reranking skipped: %s", exc)
            return passages[:k]
        order = sorted(range(len(passages)), key=lambda i: -scores[i])[:k]
        return [replace(passages[i], score=scores[i]) for i in order]

    async def rarity(
        self, terms: Sequence[str], *, collection_ids: Sequence[int]
    ) -> dict[str, float]:
        """How rare each term (a stem) is in the collections (a Retrieval's): its idf."""
        async with self.pool.acquire() as conn:
            return await lexicon_sql.rarity(conn, collection_ids, terms)

    async def sentence_vectors(self, passages: Sequence[Passage]) -> list[np.ndarray | None]:
        """Each passage's sentence vectors as stored at ingestion (None where there are none)."""
        async with self.pool.acquire() as conn:
            stored = await chunk_sql.sentence_vectors(conn, [p.chunk_id for p in passages])
        return [sentence_vectors(stored.get(p.chunk_id), self.embedder.dimension) for p in passages]


def _passage(row: Any, question: str) -> Passage:
    return Passage(
        chunk_id=row["chunk_id"],
        document_id=str(row["document_id"]),
        title=row["title"],
        text=row["text"],
        snippet=snippet(row["text"], question, row["language"]),
        page=row["page"],
        heading_path=list(row["heading_path"]),
        score=row["score"],
    )
