"""Score lexical, vector and hybrid search against BM25 and exact dense baselines.

Every mode is ranked by app.rag.retriever's `Retriever.retrieve`, the call /api/search and
answers make: eval measures what users get, not a copy of it.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import asyncpg
import numpy as np

from app.backends.cache import MemoryCache
from app.db import collections as collection_sql
from app.db import documents as document_sql
from app.db import search as search_sql
from app.db.chunks import NewChunk, copy_chunks
from app.embedders import Embedder
from app.eval.baselines import bm25_runs, dense_runs
from app.eval.dataset import Dataset
from app.eval.metrics import dedupe, summarize
from app.ingest.chunk import OVERLAP_TOKENS, Chunk, chunk_text
from app.rag.retriever import Mode, Retriever, Scope
from app.rerankers import Reranker
from app.text.language import text_search_config

DEPTH = 100
BATCH = 256


def collection_name(dataset: Dataset) -> str:
    """One collection per corpus version, so a rerun reuses the ingested corpus."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in dataset.name.lower())[:40]
    return f"eval-{slug}-{dataset.digest[:10]}"


async def ensure_ingested(pool: asyncpg.Pool, embedder: Embedder, dataset: Dataset) -> int:
    """Ingest the corpus into its own collection unless already there; return the id."""
    name = collection_name(dataset)
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            """SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id
               WHERE c.name = $1""",
            name,
        )
        if stored == len(dataset.corpus):
            return await collection_sql.get_or_create(conn, name)
        await collection_sql.delete_by_name(conn, name)
        collection_id = await collection_sql.get_or_create(conn, name)
    doc_ids = list(dataset.corpus)
    started = time.perf_counter()
    for offset in range(0, len(doc_ids), BATCH):
        batch = doc_ids[offset : offset + BATCH]
        texts = {d: dataset.document_text(d) for d in batch}
        pieces = {
            d: chunk_text(
                texts[d], embedder.count_tokens, embedder.max_tokens, overlap_tokens=OVERLAP_TOKENS
            )
            for d in batch
        }
        flat = [(d, p) for d in batch for p in pieces[d]]
        vectors = await embedder.embed([p.text for _, p in flat])
        rows = [
            (dataset.corpus[d][0] or d, _sha(d, texts[d]), {"beir_id": d, "chunks": len(pieces[d])})
            for d in batch
        ]
        async with pool.acquire() as conn, conn.transaction():
            ids = await document_sql.insert_ready_documents(conn, collection_id, rows)
            ordinals = {d: 0 for d in batch}
            records = []
            for (doc, piece), vector in zip(flat, vectors, strict=True):
                chunk = _new_chunk(piece, ordinals[doc], vector, text_search_config(piece.text))
                records.append((ids[_sha(doc, texts[doc])], chunk))
                ordinals[doc] += 1
            await copy_chunks(conn, records)
        done = offset + len(batch)
        rate = done / (time.perf_counter() - started)
        print(
            f"\r  ingested {done}/{len(doc_ids)} documents ({rate:.0f}/s)", end="", file=sys.stderr
        )
    print(file=sys.stderr)
    return collection_id


def _sha(doc_id: str, text: str) -> str:
    return hashlib.sha256(f"{doc_id}\0{text}".encode()).hexdigest()


def _new_chunk(piece: Chunk, ordinal: int, vector: np.ndarray, language: str) -> NewChunk:
    return NewChunk(
        ordinal=ordinal,
        text=piece.text,
        heading_path=piece.heading_path,
        page=None,
        char_start=piece.char_start,
        char_end=piece.char_end,
        token_count=piece.token_count,
        embedding=vector,
        language=language,
    )


async def evaluate(
    pool: asyncpg.Pool,
    embedder: Embedder,
    dataset: Dataset,
    tuning: search_sql.Tuning = search_sql.DEFAULT_TUNING,
    reranker: Reranker | None = None,
    rerank_candidates: int = 20,
) -> dict[str, Any]:
    """Metrics for every method on the dataset's judged queries (and the reranked hybrid,
    with what reranking costs per query, when a reranker is given)."""
    collection_id = await ensure_ingested(pool, embedder, dataset)
    async with pool.acquire() as conn:
        stored = await conn.fetch(
            """SELECT c.id, c.embedding, d.metadata->>'beir_id' AS beir_id
               FROM chunks c JOIN documents d ON d.id = c.document_id
               WHERE c.collection_id = $1 ORDER BY c.id""",
            collection_id,
        )
    chunk_doc = {row["id"]: row["beir_id"] for row in stored}
    query_ids = list(dataset.queries)
    # Query embeddings in batches, into the retriever's cache: every mode then finds them.
    retriever = Retriever(pool, embedder, MemoryCache(), tuning=tuning)
    await retriever.warm([dataset.queries[q] for q in query_ids])
    scope = Scope(collection_name(dataset))

    results: dict[str, Any] = {
        "dataset": dataset.name,
        "documents": len(dataset.corpus),
        "chunks": len(stored),
        "queries": len(query_ids),
        "tuning": asdict(tuning),
    }
    for mode in ("lexical", "vector", "hybrid"):
        run = await ranked(retriever, dataset, scope, mode, chunk_doc)
        results[mode] = run.metrics(dataset)
        if mode == "hybrid":
            results["choices"] = run.choices
    if reranker is not None:
        timed = _Timed(reranker)
        reranking = replace(retriever, reranker=timed, rerank_candidates=rerank_candidates)
        run = await ranked(reranking, dataset, scope, "hybrid", chunk_doc, deep=False)
        results["reranked"] = run.metrics(dataset)
        results["reranked"]["rerank_p50_ms"] = round(float(np.percentile(timed.costs, 50)), 2)
    async with pool.acquire() as conn:
        # The baseline analyses text as the corpus's most common chunk language.
        language = await conn.fetchval(
            """SELECT language FROM chunks WHERE collection_id = $1
               GROUP BY language ORDER BY count(*) DESC, language LIMIT 1""",
            collection_id,
        )
    results["language"] = language
    runs, latencies = bm25_runs(dataset, DEPTH, language or "english")
    results["bm25"] = summarize(runs, dataset.qrels, latencies)
    matrix = np.stack([row["embedding"].to_numpy() for row in stored]).astype(np.float32)
    chunk_docs = [row["beir_id"] for row in stored]
    vectors = {q: await retriever.embed(dataset.queries[q]) for q in query_ids}  # cached
    runs, latencies = dense_runs(chunk_docs, matrix, vectors, DEPTH)
    results["dense"] = summarize(runs, dataset.qrels, latencies)
    return results


@dataclass
class Run:
    """One method's document rankings: at k = 10 (timed, as users search) and at DEPTH."""

    top10: dict[str, list[str]] = field(default_factory=dict)
    deep: dict[str, list[str]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    choices: dict[str, int] = field(default_factory=dict)  # fusion's, at k = 10

    def metrics(self, dataset: Dataset) -> dict[str, float]:
        metrics = summarize(self.top10, dataset.qrels, self.latencies)
        deep = self.deep or self.top10  # (reranked: R@100 is R@10)
        metrics["recall@100"] = summarize(deep, dataset.qrels, self.latencies)["recall@100"]
        return metrics


async def ranked(
    retriever: Retriever,
    dataset: Dataset,
    scope: Scope,
    mode: Mode,
    chunk_doc: dict[int, str],
    *,
    deep: bool = True,
) -> Run:
    """Each judged query's ranked documents as `Retriever.retrieve` returns them."""
    run = Run()
    for query_id, text in dataset.queries.items():
        started = time.perf_counter()
        retrieval = await retriever.retrieve(text, scope=scope, k=10, mode=mode)
        run.latencies.append((time.perf_counter() - started) * 1000)
        run.top10[query_id] = dedupe([chunk_doc[p.chunk_id] for p in retrieval.passages])
        if retrieval.choice:
            run.choices[retrieval.choice] = run.choices.get(retrieval.choice, 0) + 1
        if deep:
            retrieval = await retriever.retrieve(text, scope=scope, k=DEPTH, mode=mode)
            run.deep[query_id] = dedupe([chunk_doc[p.chunk_id] for p in retrieval.passages])
    return run


@dataclass
class _Timed:
    """A reranker that records how long each call took (its share of the latency)."""

    inner: Reranker
    costs: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    async def score(self, query: str, texts: Sequence[str]) -> list[float]:
        started = time.perf_counter()
        try:
            return await self.inner.score(query, texts)
        finally:
            self.costs.append((time.perf_counter() - started) * 1000)

    async def close(self) -> None:
        await self.inner.close()


METHODS = ("lexical", "vector", "hybrid", "reranked", "bm25", "dense")


def format_table(results: dict[str, Any]) -> str:
    lines = [
        f"{results['dataset']}: {results['documents']} documents, {results['chunks']} chunks, "
        f"{results['queries']} judged queries, mostly {results.get('language')}",
        f"{'method':<10}{'nDCG@10':>9}{'R@10':>8}{'R@100':>8}{'MRR@10':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}",
    ]
    for method in METHODS:
        if method not in results:
            continue
        m = results[method]
        lines.append(
            f"{method:<10}{m['ndcg@10']:>9.4f}{m['recall@10']:>8.4f}{m['recall@100']:>8.4f}"
            f"{m['mrr@10']:>8.4f}{m['p50_ms']:>9.2f}{m['p95_ms']:>9.2f}"
        )
    if "reranked" in results:
        lines.append(
            f"reranked = hybrid's best reordered by the reranker, which took "
            f"{results['reranked']['rerank_p50_ms']} ms per query (p50); its R@100 is R@10"
        )
    choices = results.get("choices", {})
    lines.append(
        "hybrid = per-query fusion (what /api/search and answers use). Fusion's choice: "
        + ", ".join(f"{name} {count}" for name, count in choices.items())
    )
    return "\n".join(lines)
