"""Search latency at N chunks (default 100,000): hybrid SQL beside a bare pgvector HNSW
top-50 query on the same data, lexical search alone (and its recall@10 against exhaustive
BM25), hybrid search scoped to a collection holding 1% of the chunks (recall@10 against
exact search in that scope), GET /api/search over HTTP, and the query embedding's time with
each embedding backend installed.

    python bench/search.py [--chunks 100000] [--queries 200]

Synthetic text (Zipf-distributed words) and random unit vectors are loaded with COPY into a
fresh database on an embedded PostgreSQL (or BENCH_DATABASE_URL, a server with pgvector);
the HNSW and postings indexes are built after the load (faster than growing them per row).
The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import search as search_sql  # noqa: E402
from app.db.embedded import create_database  # noqa: E402
from app.db.pool import create_pool  # noqa: E402
from app.rag.fusion import fuse  # noqa: E402
from app.rag.snippets import snippet  # noqa: E402
from app.resources import run_migrations  # noqa: E402
from bench.smoke import parse_args  # noqa: E402

DEFAULT = search_sql.DEFAULT_TUNING
DIM = 384
WORDS_PER_CHUNK = 60
CHUNKS_PER_DOCUMENT = 100
VOCABULARY = 30_000
rng = np.random.default_rng(7)


def make_vocabulary() -> list[str]:
    """Pronounceable nonsense words, so the English stemmer leaves them alone."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables, size=rng.integers(2, 5))))
    return sorted(words)


def zipf_words(vocabulary: list[str], count: int) -> np.ndarray:
    ranks = np.arange(1, len(vocabulary) + 1)
    weights = 1.0 / ranks
    return rng.choice(len(vocabulary), size=count, p=weights / weights.sum())


def unit_vectors(count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def with_warmup(n: int, warm: int = 20) -> list[tuple[int, bool]]:
    """(index, counted) for n queries: up to `warm` uncounted ones first (they fill caches),
    then each query once, counted. Any n >= 1 leaves something to count (--smoke runs 10)."""
    return [(i, False) for i in range(min(warm, n))] + [(i, True) for i in range(n)]


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


# Every hundredth document goes to a second collection: scoped search's 1%.
SCOPED_EVERY = 100
# Indexes built once after the load: far faster than growing them row by row.
BUILT_AFTER_LOAD = ("chunks_embedding_idx", "postings_term_idx", "postings_chunk_idx")


async def load(url: str, chunks: int, vocabulary: list[str]) -> tuple[int, int, dict[str, float]]:
    """The bench and 1% collections' ids, and the load's and the index builds' seconds."""
    conn = await asyncpg.connect(url)
    from pgvector.asyncpg import register_vector

    await register_vector(conn)
    collection_id = await conn.fetchval(
        "INSERT INTO collections (name) VALUES ('bench') RETURNING id"
    )
    scoped_id = await conn.fetchval(
        "INSERT INTO collections (name) VALUES ('bench-1pct') RETURNING id"
    )
    documents = [uuid.uuid4() for _ in range(max(1, chunks // CHUNKS_PER_DOCUMENT))]
    await conn.copy_records_to_table(
        "documents",
        columns=("id", "title", "source", "media_type", "sha256", "size_bytes", "status",
                 "collection_id"),
        records=[(d, f"doc {i}", "bench", "text/plain", d.hex, 0, "ready",
                  scoped_id if i % SCOPED_EVERY == 0 else collection_id)
                 for i, d in enumerate(documents)],
    )  # fmt: skip
    definitions = [
        r["indexdef"]
        for r in await conn.fetch(
            "SELECT indexdef FROM pg_indexes WHERE indexname = ANY($1)", list(BUILT_AFTER_LOAD)
        )
    ]
    for name in BUILT_AFTER_LOAD:
        await conn.execute(f"DROP INDEX {name}")
    started = time.perf_counter()
    batch = 10_000
    for offset in range(0, chunks, batch):
        n = min(batch, chunks - offset)
        ids = zipf_words(vocabulary, n * WORDS_PER_CHUNK).reshape(n, WORDS_PER_CHUNK)
        vectors = unit_vectors(n)
        records = [
            (documents[(offset + i) // CHUNKS_PER_DOCUMENT], (offset + i) % CHUNKS_PER_DOCUMENT,
             " ".join(vocabulary[w] for w in ids[i]), [], None, 0, 0, WORDS_PER_CHUNK, vectors[i])
            for i in range(n)
        ]  # fmt: skip
        await conn.copy_records_to_table(
            "chunks",
            columns=("document_id", "ordinal", "text", "heading_path", "page", "char_start",
                     "char_end", "token_count", "embedding"),
            records=records,
        )  # fmt: skip
        print(f"\r  loaded {offset + n}/{chunks} chunks", end="", file=sys.stderr)
    seconds = {"load_s": round(time.perf_counter() - started)}
    print(f" in {seconds['load_s']} s", file=sys.stderr)
    started = time.perf_counter()
    await conn.execute(
        f"SET maintenance_work_mem = '{os.environ.get('BENCH_INDEX_MEMORY', '1GB')}'"
    )
    for definition in definitions:  # the migrations' own definitions
        await conn.execute(definition)
    for table in ("chunks", "postings", "lexicon"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    seconds["index_s"] = round(time.perf_counter() - started)
    print(f"  HNSW and postings indexes, VACUUM ANALYZE in {seconds['index_s']} s", file=sys.stderr)
    await conn.close()
    return collection_id, scoped_id, seconds


def questions(vocabulary: list[str], count: int) -> list[str]:
    """3 to 5 words each, drawn like the text but skipping the 50 most common (stopwords)."""
    result = []
    for _ in range(count):
        words = [w for w in zipf_words(vocabulary, 40) if w >= 50][: rng.integers(3, 6)]
        result.append(" ".join(vocabulary[w] for w in words))
    return result


async def hybrid(
    pool: asyncpg.Pool, text: str, vector: np.ndarray, collection_id: int
) -> list[int]:
    """The app's hybrid search as Retriever.retrieve runs it: both rankings' candidates at
    once on two connections, fusion, details, snippets."""
    candidates = await search_sql.candidates(
        pool, text=text, embedding=vector, collection_ids=[collection_id],
        document_ids=None, limit=10,
    )  # fmt: skip
    best = fuse(candidates).ranked[:10]
    async with pool.acquire() as conn:
        rows = await search_sql.details(conn, ids=[c for c, _ in best])
    for row in rows:
        snippet(row["text"], text, row["language"])
    return [c for c, _ in best]


async def lexical(
    conn: asyncpg.Connection, text: str, collection_id: int, tuning: search_sql.Tuning
) -> list[int]:
    return [c for c, _ in await lexical_scored(conn, text, collection_id, tuning)]


async def lexical_scored(
    conn: asyncpg.Connection, text: str, collection_id: int, tuning: search_sql.Tuning
) -> list[tuple[int, float]]:
    """The top 10 (chunk id, BM25), each score exact (the statement scores what it returns
    from all of the chunk's postings)."""
    rows = await search_sql.search(
        conn, mode="lexical", text=text, embedding=None, collection_ids=[collection_id],
        document_ids=None, limit=10, ids_only=True, tuning=tuning,
    )  # fmt: skip
    return [(r["chunk_id"], r["score"]) for r in rows]


def timed(timings: list[float], counted: bool, started: float) -> None:
    if counted:
        timings.append((time.perf_counter() - started) * 1000)


async def sql_latency(url: str, collection_id: int, texts: list[str]) -> dict[str, float]:
    """The app's hybrid search, a bare HNSW top-50 and lexical search alone, interleaved so
    that load on the machine hits all alike, in an order that turns with each query: the
    query run right after another with the same vector or words finds the index pages and
    the CPU caches warm, which made the bare HNSW query look up to twice as fast."""
    pool = await create_pool(url, max_size=3)
    vectors = unit_vectors(len(texts))
    timings: dict[str, list[float]] = {"sql": [], "hnsw_top50": [], "lexical": []}
    async with pool.acquire() as conn:

        async def bare_hnsw(text: str, vector: np.ndarray) -> None:
            await conn.fetch(
                """SELECT id FROM chunks WHERE collection_id = ANY($1)
                   ORDER BY embedding <=> $2 LIMIT 50""",
                [collection_id],
                vector,
            )

        async def hybrid_search(text: str, vector: np.ndarray) -> None:
            await hybrid(pool, text, vector, collection_id)

        async def lexical_search(text: str, vector: np.ndarray) -> None:
            await lexical(conn, text, collection_id, search_sql.DEFAULT_TUNING)

        runs = [("sql", hybrid_search), ("hnsw_top50", bare_hnsw), ("lexical", lexical_search)]
        for i, counted in with_warmup(len(texts)):
            for name, run in runs[i % 3 :] + runs[: i % 3]:
                started = time.perf_counter()
                await run(texts[i], vectors[i])
                timed(timings[name], counted, started)
        result = {}
        for name, values in timings.items():
            result[f"{name}_p50_ms"] = percentile(values, 50)
            result[f"{name}_p99_ms"] = percentile(values, 99)
        result["hybrid_over_hnsw_p50"] = round(
            result["sql_p50_ms"] / result["hnsw_top50_p50_ms"], 2
        )
        result |= await lexical_recall(conn, collection_id, texts[:50])
        result["hnsw_recall@10"] = await hnsw_recall(conn, collection_id, vectors[:20])
    await pool.close()
    return result


# Every list read whole: the exhaustive BM25 ranking the bounded one is measured against.
EXHAUSTIVE = search_sql.Tuning(postings=2**62)


async def lexical_recall(
    conn: asyncpg.Connection, collection_id: int, texts: list[str]
) -> dict[str, float]:
    """Recall@10 of lexical search (a bounded number of postings per query) against
    exhaustive BM25 on the same index: what reading the best postings only costs. By id, and
    by score: a result scoring as high as the exhaustive tenth is as good as the one it
    displaced. The bench's chunks all have 60 words, so equal term counts tie exactly and
    the exhaustive top 10 is picked among ties by id, which no bounded read can follow."""
    found = as_good = total = 0
    for text in texts:
        exact = await lexical_scored(conn, text, collection_id, EXHAUSTIVE)
        bounded = await lexical_scored(conn, text, collection_id, DEFAULT)
        found += len({c for c, _ in exact} & {c for c, _ in bounded})
        tenth = exact[-1][1] if exact else 0.0
        as_good += sum(1 for _, score in bounded[: len(exact)] if score >= tenth - 1e-9)
        total += len(exact)
    return {
        "lexical_recall@10": round(found / max(total, 1), 3),
        "lexical_score_recall@10": round(as_good / max(total, 1), 3),
    }


async def exact_nearest(
    conn: asyncpg.Connection, collection_id: int, query: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """The k nearest chunks by exact cosine (a scan, no index)."""
    async with conn.transaction():
        await conn.execute("SET LOCAL enable_indexscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        rows = await conn.fetch(
            """SELECT id, 1 - (embedding <=> $2) AS score FROM chunks WHERE collection_id = $1
               ORDER BY embedding <=> $2 LIMIT $3""",
            collection_id, query, k,
        )  # fmt: skip
    return [(r["id"], r["score"]) for r in rows]


async def hnsw_recall(conn: asyncpg.Connection, collection_id: int, queries: np.ndarray) -> float:
    """Recall@10 of the HNSW ranking against exact search (random vectors: a hard case)."""
    found = 0
    for query in queries:
        exact = {c for c, _ in await exact_nearest(conn, collection_id, query, 10)}
        approx = await search_sql.search(
            conn, mode="vector", text="", embedding=query, collection_ids=[collection_id],
            document_ids=None, limit=10, ids_only=True,
        )  # fmt: skip
        found += len(exact & {r["chunk_id"] for r in approx})
    return round(found / (10 * len(queries)), 3)


async def scoped(url: str, scoped_id: int, texts: list[str]) -> dict[str, float]:
    """Hybrid search in the collection holding 1% of the chunks: latency, and recall@10
    against exact search in that scope (exhaustive BM25 and exact cosine, fused alike)."""
    pool = await create_pool(url, max_size=3)
    vectors = unit_vectors(len(texts))
    timings: list[float] = []
    found = 0
    async with pool.acquire() as conn:
        for i, counted in with_warmup(len(texts)):
            started = time.perf_counter()
            got = await hybrid(pool, texts[i], vectors[i], scoped_id)
            timed(timings, counted, started)
            if counted:
                exact = await search_sql.candidates(
                    pool, text=texts[i], embedding=vectors[i], collection_ids=[scoped_id],
                    document_ids=None, limit=10, tuning=EXHAUSTIVE,
                )  # fmt: skip
                nearest = await exact_nearest(conn, scoped_id, vectors[i], EXHAUSTIVE.candidates)
                want = fuse(replace(exact, vector=nearest)).ranked[:10]
                found += len({c for c, _ in want} & set(got)) / max(1, len(want))
    await pool.close()
    return {"scoped_p50_ms": percentile(timings, 50), "scoped_p99_ms": percentile(timings, 99),
            "scoped_recall_at_10": round(found / len(texts), 3)}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def api_key(url: str) -> str:
    """An admin's API key: every /api request needs one."""
    from app.auth import tokens
    from app.db import users as user_sql

    conn = await asyncpg.connect(url)
    try:
        user_id = await user_sql.create_user(conn, "bench@example.org", "-", "admin")
        key, prefix = tokens.new_api_key()
        await user_sql.create_key(conn, user_id, "bench", prefix, tokens.digest(key))
    finally:
        await conn.close()
    return key


def http_latency(url: str, texts: list[str], key: str) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING",
           "ALLOWED_HOSTS": "127.0.0.1,localhost"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.asgi:application", "--port", str(port),
         "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=30, headers=headers
        ) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            timings = []
            for i, counted in with_warmup(len(texts)):
                started = time.perf_counter()
                response = client.get(
                    "/api/search",
                    params={"q": texts[i], "k": 10, "collection": "bench", "cache": "off"},
                )
                response.raise_for_status()
                if counted:
                    timings.append((time.perf_counter() - started) * 1000)
        return {"http_p50_ms": percentile(timings, 50), "http_p99_ms": percentile(timings, 99)}
    finally:
        server.terminate()
        server.wait(30)


async def embedding_latency(texts: list[str]) -> dict[str, float]:
    """Query-embedding p50 for each backend that is installed (torch is optional)."""
    from app.config import load_settings
    from app.embedders import load_embedder

    result = {}
    for backend in ("onnx-int8", "torch"):
        try:
            embedder = await load_embedder(load_settings({"EMBEDDING_BACKEND": backend}))
        except ImportError:
            continue
        timings = []
        for i, counted in with_warmup(min(50, len(texts)), warm=10):
            started = time.perf_counter()
            await embedder.embed([texts[i]])
            if counted:
                timings.append((time.perf_counter() - started) * 1000)
        await embedder.close()
        result[f"query_embedding_p50_ms_{backend}"] = percentile(timings, 50)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database to explore it")
    args = parse_args(parser, chunks=2000, queries=10)
    server = None
    admin = os.environ.get("BENCH_DATABASE_URL")
    if not admin:
        from app.db.embedded import start_embedded

        data = Path(tempfile.mkdtemp(prefix="bench-search-"))
        server = start_embedded(data)
        if args.keep:
            server.cleanup_mode = None  # leave it running for exploration
        admin = server.get_uri()
    url = await create_database(admin, "bench")
    name = url.partition("?")[0].rsplit("/", 1)[1]
    try:
        await run_migrations(url)
        vocabulary = make_vocabulary()
        collection_id, scoped_id, seconds = await load(url, args.chunks, vocabulary)
        texts = questions(vocabulary, args.queries)
        result = {"chunks": args.chunks, "queries": args.queries, **seconds}
        result |= await sql_latency(url, collection_id, texts)
        result |= await scoped(url, scoped_id, texts[: max(10, args.queries // 2)])
        result |= await asyncio.to_thread(http_latency, url, texts, await api_key(url))
        result |= await embedding_latency(texts)
        result["http_goal_p50_ms"] = round(
            result["sql_p50_ms"] + result["query_embedding_p50_ms_onnx-int8"] + 5, 2
        )
        print(json.dumps(result))
    finally:
        if args.keep:
            print(f"kept {url}", file=sys.stderr)
        else:
            conn = await asyncpg.connect(admin)
            await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
            await conn.close()
            if server is not None:
                server.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
