"""Ingestion throughput against the embedding model alone.

    python bench/ingest.py [--corpus ../shared/datasets/msmarco/corpus.jsonl] [--limit N]

Ingests every passage of a BEIR corpus as a document through the real pipeline (each passage
written to a file and accepted like an upload, in transactions of 100 while the worker runs;
worker: parse, chunk, embed with sentence vectors, COPY) into a fresh database with the
configured embedder (EMBEDDING_BACKEND, default onnx-int8), then times plain fp32
`SentenceTransformer.encode` (torch) on the same chunk texts. The last line is JSON with chunks
per second for both and their ratio (goal since the ONNX int8 embedder: at least 2.0). Needs
requirements-torch.txt for the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from app.config import load_settings  # noqa: E402
from app.db.embedded import create_database, start_embedded  # noqa: E402
from app.db.pool import create_pool  # noqa: E402
from app.embedders import Embedder, load_embedder  # noqa: E402
from app.embedders.local import LocalEmbedder  # noqa: E402
from app.ingest import formats  # noqa: E402
from app.ingest.accept import accept_document  # noqa: E402
from app.ingest.spool import hashed  # noqa: E402
from app.jobs.worker import Worker  # noqa: E402
from app.resources import run_migrations  # noqa: E402
from bench.smoke import parse_args  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "datasets" / "msmarco" / "corpus.jsonl"
SUBMIT_GROUP = 100  # documents per upload transaction


def load_corpus(path: Path, limit: int | None) -> list[tuple[str, str]]:
    documents = []
    with path.open() as lines:
        for line in lines:
            row = json.loads(line)
            text = f"{row['title']}\n\n{row['text']}" if row.get("title") else row["text"]
            documents.append((f"{row['_id']}.txt", text))
            if limit and len(documents) >= limit:
                break
    return documents


async def run(corpus: Path, limit: int | None) -> dict[str, float]:
    documents = load_corpus(corpus, limit)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_embedded(Path(tmp))
        try:
            admin_url = server.get_uri()
            dsn = await create_database(admin_url, "bench")
            await run_migrations(dsn)
            pool = await create_pool(dsn)
            embedder = await load_embedder(load_settings())
            await embedder.embed([text for _, text in documents[:64]])  # warm up
            try:
                return await measure(pool, embedder, documents, Path(tmp) / "files")
            finally:
                await embedder.close()
                await pool.close()
        finally:
            server.cleanup()


async def measure(pool, embedder: Embedder, documents, folder: Path) -> dict[str, float]:
    folder.mkdir()
    plain = formats.for_filename("x.txt")
    started = time.perf_counter()
    # The worker runs while documents arrive, as it does behind the upload endpoint: each
    # group of uploads commits (and wakes the worker) on its own.
    worker = asyncio.create_task(Worker(pool, embedder, poll_seconds=0.5).run())
    for begin in range(0, len(documents), SUBMIT_GROUP):
        async with pool.acquire() as conn, conn.transaction():
            for source, text in documents[begin : begin + SUBMIT_GROUP]:
                path = folder / source  # the file an upload would have spooled
                path.write_text(text)
                await accept_document(
                    conn, await hashed(path), source=source, fmt=plain, collection="default"
                )
    submit_seconds = time.perf_counter() - started
    async with pool.acquire() as conn:
        total = await conn.fetchval("SELECT count(*) FROM jobs")  # a duplicate gets no job
        while (
            await conn.fetchval("SELECT count(*) FROM jobs WHERE status IN ('done', 'failed')")
            < total
        ):
            await asyncio.sleep(0.05)
    pipeline_seconds = time.perf_counter() - started
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    async with pool.acquire() as conn:
        texts = [r["text"] for r in await conn.fetch("SELECT text FROM chunks ORDER BY id")]
        failed = await conn.fetchval("SELECT count(*) FROM jobs WHERE status = 'failed'")

    reference = await LocalEmbedder.load(None)
    model = reference._model
    model.encode(texts[:64], batch_size=32, show_progress_bar=False)  # warm up
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    encode_seconds = time.perf_counter() - started

    pipeline = len(texts) / pipeline_seconds
    encode = len(texts) / encode_seconds
    await reference.close()
    return {
        "embedder": type(embedder).__name__,
        "documents": len(documents),
        "failed": failed,
        "chunks": len(texts),
        "pipeline_seconds": round(pipeline_seconds, 2),
        "submit_seconds": round(submit_seconds, 2),
        "encode_seconds": round(encode_seconds, 2),
        "pipeline_chunks_per_s": round(pipeline, 1),
        "encode_chunks_per_s": round(encode, 1),
        "ratio": round(pipeline / encode, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, help="only the first N passages")
    # The smoke run reads the small set the tests ship, so it needs nothing outside the repo.
    args = parse_args(parser, limit=20, corpus=ROOT / "tests" / "data" / "ddhc-fr" / "corpus.jsonl")
    result = asyncio.run(run(args.corpus, args.limit))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
