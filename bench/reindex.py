"""`python -m app reindex`'s time, and search latency while it runs.

    python bench/reindex.py [--chunks 5000] [--stop-after SECONDS]

Loads --chunks chunks (bench/stream.py's synthetic text, random unit vectors) into a fresh
embedded database, then re-embeds them all with the configured model as `python -m app
reindex` does (new vectors beside the old, HNSW index built concurrently, one swap), while
one client searches (vector search over the old vectors) in a loop. The last line is JSON:
the reindex's seconds and chunks/s (and its two parts: embedding every chunk, then the new
HNSW index and the swap), the searches answered during it and their p50/p99 against the same
searches before it. --stop-after interrupts the reindex (as Ctrl-C would) after that many
seconds, for a corpus whose reindex outlasts the time at hand: it then reports the chunks
re-embedded so far and their rate, per tenth of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from app.db.embedded import create_database, start_embedded  # noqa: E402
from app.db.pool import create_pool  # noqa: E402
from app.embedders import load_embedder  # noqa: E402
from app.ingest.reindex import reindex  # noqa: E402
from app.resources import run_migrations  # noqa: E402
from bench.smoke import parse_args  # noqa: E402
from bench.stream import load_chunks  # noqa: E402

QUESTIONS = ["How do solar panels work?", "What is a heat pump?", "Why do batteries wear out?"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def search(pool, vector) -> float:
    started = time.perf_counter()
    await pool.fetch("SELECT id FROM chunks ORDER BY embedding <=> $1 LIMIT 10", vector)
    return time.perf_counter() - started


async def run(chunks: int, stop_after: float | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_embedded(Path(tmp))
        try:
            url = await create_database(server.get_uri(), "bench")
            await run_migrations(url)
            await load_chunks(url, chunks, real_vectors=False)
            pool = await create_pool(url)
            embedder = await load_embedder(load_settings())
            try:
                vectors = await embedder.embed(QUESTIONS)
                before = [await search(pool, v) for _ in range(20) for v in vectors]
                during: list[float] = []
                done = asyncio.Event()

                async def searching() -> None:
                    while not done.is_set():
                        for vector in vectors:
                            during.append(await search(pool, vector))
                        await asyncio.sleep(0.05)

                searcher = asyncio.create_task(searching())
                started = time.perf_counter()
                marks: list[tuple[float, int]] = []  # (seconds, chunks done) at each batch

                def progress(done: int, total: int) -> None:
                    marks.append((time.perf_counter() - started, done))

                try:
                    count = await asyncio.wait_for(reindex(pool, embedder, progress), stop_after)
                except TimeoutError:
                    count = None
                seconds = time.perf_counter() - started
                done.set()
                await searcher
            finally:
                await embedder.close()
                await pool.close()
        finally:
            server.cleanup()
    searches = {
        "searches_during": len(during),
        "search_p50_ms_before": round(1000 * statistics.median(before), 1),
        "search_p50_ms_during": round(1000 * statistics.median(during), 1),
        "search_p99_ms_during": round(1000 * percentile(during, 99), 1),
    }
    if count is None:
        stopped = {"chunks": chunks, "stopped_after_seconds": round(seconds, 1)}
        return stopped | _rates(marks) | searches
    filled = next(t for t, done in marks if done >= chunks)  # every chunk had its new vector
    return {
        "chunks": count,
        "reindex_seconds": round(seconds, 1),
        "reindex_chunks_per_s": round(count / seconds, 1),
        # The two parts that grow differently with the corpus: embedding (linear), then
        # the new HNSW index built concurrently and the swap.
        "embed_seconds": round(filled, 1),
        "index_and_swap_seconds": round(seconds - filled, 1),
    } | searches


def _rates(marks: list[tuple[float, int]]) -> dict[str, object]:
    """Chunks re-embedded by an interrupted reindex, their rate overall and per tenth of the
    run (whether it slows as the new column fills)."""
    if len(marks) < 2:  # stopped before its first batch was written
        return {"reembedded": 0, "reembedded_chunks_per_s": 0, "chunks_per_s_by_tenth": []}
    (start, first), (end, last) = marks[0], marks[-1]
    tenths = [next(m for m in marks if m[0] >= start + (end - start) * k / 10) for k in range(11)]
    return {
        "reembedded": last - first,
        "reembedded_chunks_per_s": round((last - first) / (end - start), 1) if end > start else 0,
        "chunks_per_s_by_tenth": [
            round((b[1] - a[1]) / (b[0] - a[0]), 1) if b[0] > a[0] else 0
            for a, b in itertools.pairwise(tenths)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--stop-after", type=float, help="interrupt the reindex after SECONDS")
    args = parse_args(parser, chunks=50)
    print(json.dumps(asyncio.run(run(args.chunks, args.stop_after))))


if __name__ == "__main__":
    main()
