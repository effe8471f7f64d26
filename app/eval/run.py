"""Score lexical, vector and hybrid search against BM25 and exact dense baselines."""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import asdict
from typing import Any

import asyncpg
import numpy as np

from app.db import collections as collection_sql
from app.db import documents as document_sql
from app.db import search as search_sql
from app.db.chunks import NewChunk, copy_chunks
from app.embedders import Embedder
from app.eval.baselines import bm25_runs, dense_runs
from app.eval.dataset import Dataset
from app.eval.metrics import dedupe, summarize
from app.ingest.chunk import OVERLAP_TOKENS, Chunk, chunk_text
from app.rag.fusion import fuse
from app.rerankers import Reranker
from app.text.language import readable_by, text_search_config

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
    vectors = await embedder.embed([dataset.queries[q] for q in query_ids])
    query_vectors = dict(zip(query_ids, vectors, strict=True))

    results: dict[str, Any] = {
        "dataset": dataset.name,
        "documents": len(dataset.corpus),
        "chunks": len(stored),
        "queries": len(query_ids),
        "tuning": asdict(tuning),
    }
    collections = [collection_id]
    for method, mode in (("lexical", "lexical"), ("vector", "vector"), ("rrf", "hybrid")):
        # @10 metrics and latency as users get them (k=10); Recall@100 from a depth-100 run.
        top10, deep, latencies = {}, {}, []
        async with pool.acquire() as conn:
            await search_sql.apply_session_settings(conn, tuning)
            for query_id in query_ids:
                for limit, runs in ((10, top10), (DEPTH, deep)):
                    started = time.perf_counter()
                    rows = await search_sql.search(
                        conn,
                        mode=mode,
                        text=dataset.queries[query_id],
                        embedding=query_vectors[query_id],
                        collection_ids=collections,
                        document_ids=None,
                        limit=limit,
                        tuning=tuning,
                        ids_only=True,
                    )
                    if limit == 10:
                        latencies.append((time.perf_counter() - started) * 1000)
                    runs[query_id] = dedupe([chunk_doc[row["chunk_id"]] for row in rows])
        results[method] = summarize(top10, dataset.qrels, latencies)
        results[method]["recall@100"] = summarize(deep, dataset.qrels, latencies)["recall@100"]
    results["hybrid"], results["choices"] = await _adaptive(
        pool, embedder, dataset, query_vectors, collections, chunk_doc, tuning
    )
    if reranker is not None:
        results["reranked"] = await _reranked(
            pool, embedder, dataset, query_vectors, collections, chunk_doc, tuning, reranker,
            rerank_candidates,
        )  # fmt: skip
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
    runs, latencies = dense_runs(chunk_docs, matrix, query_vectors, DEPTH)
    results["dense"] = summarize(runs, dataset.qrels, latencies)
    return results


async def _adaptive(
    pool: asyncpg.Pool,
    embedder: Embedder,
    dataset: Dataset,
    query_vectors: dict[str, np.ndarray],
    collections: list[int],
    chunk_doc: dict[int, str],
    tuning: search_sql.Tuning,
) -> tuple[dict[str, float], dict[str, Any]]:
    """The app's hybrid search (both rankings' candidates, fused per query), and how often
    each evidence decided."""
    top10, deep, latencies = {}, {}, []
    choices: dict[str, int] = {}
    weights: list[tuple[float, float]] = []
    scripts = getattr(embedder, "scripts", None)
    async with pool.acquire() as conn:
        await search_sql.apply_session_settings(conn, tuning)
        for query_id, text in dataset.queries.items():
            for limit, runs in ((10, top10), (DEPTH, deep)):
                started = time.perf_counter()
                candidates = await search_sql.candidates(
                    conn,
                    text=text,
                    embedding=query_vectors[query_id],
                    collection_ids=collections,
                    document_ids=None,
                    limit=limit,
                    tuning=tuning,
                )
                fused = fuse(
                    candidates,
                    vector_covers=readable_by(scripts, text),
                    limit=max(tuning.candidates, limit),
                )
                if limit == 10:
                    latencies.append((time.perf_counter() - started) * 1000)
                    choices[fused.choice] = choices.get(fused.choice, 0) + 1
                    weights.append((fused.lexical_weight, fused.vector_weight))
                runs[query_id] = dedupe([chunk_doc[c] for c, _ in fused.ranked[:limit]])
    metrics = summarize(top10, dataset.qrels, latencies)
    metrics["recall@100"] = summarize(deep, dataset.qrels, latencies)["recall@100"]
    mean = np.mean(weights, axis=0) if weights else np.zeros(2)
    summary = {
        **choices,
        "mean_lexical_weight": round(float(mean[0]), 3),
        "mean_vector_weight": round(float(mean[1]), 3),
    }
    return metrics, summary


async def _reranked(
    pool: asyncpg.Pool,
    embedder: Embedder,
    dataset: Dataset,
    query_vectors: dict[str, np.ndarray],
    collections: list[int],
    chunk_doc: dict[int, str],
    tuning: search_sql.Tuning,
    reranker: Reranker,
    depth: int,
) -> dict[str, float]:
    """The hybrid's best `depth` reordered by the reranker; latency includes the reranker,
    and `rerank_p50_ms` is the reranker's own share."""
    runs, latencies, costs = {}, [], []
    scripts = getattr(embedder, "scripts", None)
    async with pool.acquire() as conn:
        await search_sql.apply_session_settings(conn, tuning)
        for query_id, text in dataset.queries.items():
            started = time.perf_counter()
            candidates = await search_sql.candidates(
                conn, text=text, embedding=query_vectors[query_id], collection_ids=collections,
                document_ids=None, limit=depth, tuning=tuning,
            )  # fmt: skip
            fused = fuse(candidates, vector_covers=readable_by(scripts, text))
            ids = [c for c, _ in fused.ranked[:depth]]
            texts = dict(await conn.fetch("SELECT id, text FROM chunks WHERE id = ANY($1)", ids))
            scored = time.perf_counter()
            scores = await reranker.score(text, [texts[c] for c in ids])
            costs.append((time.perf_counter() - scored) * 1000)
            order = sorted(range(len(ids)), key=lambda i: -scores[i])
            latencies.append((time.perf_counter() - started) * 1000)
            runs[query_id] = dedupe([chunk_doc[ids[i]] for i in order])
    metrics = summarize(runs, dataset.qrels, latencies)
    metrics["rerank_p50_ms"] = round(float(np.percentile(costs, 50)), 2)
    return metrics


METHODS = ("lexical", "vector", "rrf", "hybrid", "reranked", "bm25", "dense")


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
            f"{results['reranked']['rerank_p50_ms']} ms per query (p50); its R@100 is R@depth"
        )
    choices = results.get("choices", {})
    lines.append(
        "hybrid = per-query fusion; rrf = the fixed weighted RRF it replaced. Fusion's choice: "
        + ", ".join(f"{name} {count}" for name, count in choices.items() if "weight" not in name)
        + f" (mean weights: lexical {choices.get('mean_lexical_weight')},"
        f" vector {choices.get('mean_vector_weight')})"
    )
    return "\n".join(lines)
