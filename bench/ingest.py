"""Ingestion throughput of `python -m app worker` against the embedding model alone.

    python bench/ingest.py [--corpus ../shared/datasets/msmarco/corpus.jsonl] [--limit N]
                           [--workers 1 2 4 ...] [--pdf-pages 100]

For each N in --workers, a fresh database gets every passage of a BEIR corpus as a document
(each written to a file and accepted like an upload) plus one PDF of --pdf-pages pages, all
queued in one transaction; N `python -m app worker` processes (WORKER_PROCESSES=N, so each
embeds on cores / N threads), started and idle beforehand, then run the real pipeline (parse,
sandboxed for the PDF; chunk; detect languages; embed with sentence vectors; COPY) until every
job is done. Timed from the commit to the last job's end; the workers' RSS (and their parsing
children's) is sampled all along.

Then, on the same chunk texts in this process: the configured encoder alone (EMBEDDING_BACKEND,
default onnx-int8, or onnx-q8 with int8 activations too; on cores / 1 threads, through
`embed_sorted` as the worker calls it, sentence vectors included) and plain fp32
`SentenceTransformer.encode` (torch; requirements-torch.txt).

The last line is JSON: per N, chunks/s and the workers' peak RSS; `ratio_encoder` (1 worker
against the encoder alone, goal >= 0.9: everything but the model hidden behind it),
`ratio_fp32` (goal >= 2.0) and CPU seconds per chunk of each, which a shared machine disturbs
less than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from app.config import load_settings  # noqa: E402
from app.db.embedded import create_database, start_embedded  # noqa: E402
from app.db.pool import create_pool  # noqa: E402
from app.embedders import load_embedder  # noqa: E402
from app.infra.capacity import available_cores  # noqa: E402
from app.ingest import formats  # noqa: E402
from app.ingest.accept import accept_document  # noqa: E402
from app.ingest.embed import embed_sorted  # noqa: E402
from app.ingest.spool import hashed  # noqa: E402
from app.resources import run_migrations  # noqa: E402
from bench.smoke import parse_args  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "datasets" / "msmarco" / "corpus.jsonl"
STARTED = "worker started"  # app/__main__.py logs it once the model is loaded


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


def pdf_of(texts: list[str], pages: int) -> bytes:
    """A text PDF of `pages` pages, each holding some 40 lines of the corpus' passages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    words = " ".join(texts).split() or ["empty"]
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    at = 0
    for _ in range(pages):
        y = 800
        for _ in range(40):
            page.drawString(72, y, " ".join(words[(at + i) % len(words)] for i in range(12)))
            at += 12
            y -= 18
        page.showPage()
    page.save()
    return buffer.getvalue()


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time of a process, its children reaped or alive included."""
    total = 0.0
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += sum(child.cpu_times()[:2])
    return total


async def submit(
    pool: asyncpg.Pool, documents: list[tuple[str, str]], pdf: bytes, folder: Path
) -> None:
    """Queue every document (and the PDF) in one transaction, as uploads would."""
    folder.mkdir()
    plain = formats.for_filename("x.txt")
    async with pool.acquire() as conn:
        async with conn.transaction():
            if pdf:
                path = folder / "report.pdf"
                path.write_bytes(pdf)
                fmt = formats.for_filename(path.name)
                await accept_document(
                    conn, await hashed(path), source=path.name, fmt=fmt, collection="default"
                )
            for source, text in documents:
                path = folder / source  # the file an upload would have spooled
                path.write_text(text)
                await accept_document(
                    conn, await hashed(path), source=source, fmt=plain, collection="default"
                )


def start_workers(dsn: str, count: int, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = os.environ | {
        "DATABASE_URL": dsn,
        "WORKER_PROCESSES": str(count),
        "LOG_LEVEL": "INFO",
        "DATA_DIR": str(logs),
    }
    workers = []
    for i in range(count):
        log = (logs / f"worker{i}.log").open("wb")
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "app", "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 600
    while not all(STARTED in (logs / f"worker{i}.log").read_text() for i in range(count)):
        if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
            stop(workers)
            raise RuntimeError(f"a worker did not start: see {logs}")
        time.sleep(0.2)
    return workers


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


async def pipeline(
    admin: str, count: int, documents: list[tuple[str, str]], pdf: bytes, tmp: Path
) -> tuple[dict[str, float], list[str]]:
    """N workers ingest the documents; their figures, and the chunk texts they embedded."""
    dsn = await create_database(admin, f"bench{count}")
    await run_migrations(dsn)
    logs = tmp / f"workers{count}"
    logs.mkdir()
    workers = start_workers(dsn, count, logs)
    processes = [psutil.Process(w.pid) for w in workers]
    pool = await create_pool(dsn)
    try:
        postmaster = psutil.Process(await pool.fetchval("SELECT pg_backend_pid()")).parent()
        cpu_before = sum(map(cpu_seconds, processes)) + cpu_seconds(postmaster)
        peak_worker = peak_children = 0
        submitted = time.perf_counter()
        await submit(pool, documents, pdf, tmp / f"files{count}")
        started = time.perf_counter()
        while await pool.fetchval(
            "SELECT count(*) FROM jobs WHERE status NOT IN ('done', 'failed')"
        ):
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    peak_worker = max(peak_worker, process.memory_info().rss)
                    children = sum(c.memory_info().rss for c in process.children(recursive=True))
                    peak_children = max(peak_children, children)
            await asyncio.sleep(0.2)
        seconds = time.perf_counter() - started
        cpu = sum(map(cpu_seconds, processes)) + cpu_seconds(postmaster) - cpu_before
        # The kernel's own peak of each worker's RSS (sampling can miss a short one).
        for process in processes:
            with contextlib.suppress(OSError, psutil.Error):
                status = Path(f"/proc/{process.pid}/status").read_text()
                hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
                peak_worker = max(peak_worker, int(hwm.split()[1]) * 1024)
        texts = [r["text"] for r in await pool.fetch("SELECT text FROM chunks ORDER BY id")]
        failed = await pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'failed'")
    finally:
        stop(workers)
        await pool.close()
    return {
        "workers": count,
        "documents": len(documents) + bool(pdf),
        "failed": failed,
        "chunks": len(texts),
        "submit_seconds": round(started - submitted, 2),
        "seconds": round(seconds, 2),
        "chunks_per_s": round(len(texts) / seconds, 1),
        "cpu_ms_per_chunk": round(1000 * cpu / len(texts), 1),
        "worker_peak_rss_mb": round(peak_worker / 2**20),
        "parse_children_peak_rss_mb": round(peak_children / 2**20),
    }, texts


async def encoder_alone(texts: list[str]) -> dict[str, float]:
    """The configured encoder on cores / 1 threads, as the worker calls it (one worker)."""
    embedder = await load_embedder(load_settings(), threads=available_cores())
    me = psutil.Process()
    try:
        await embedder.embed(texts[:64])  # warm up
        cpu, started = cpu_seconds(me), time.perf_counter()
        await embed_sorted(embedder, texts)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(me) - cpu
    finally:
        await embedder.close()
    return {
        "encoder": type(embedder).__name__,
        "encoder_model": embedder.name,  # the name stored vectors are recorded under
        "encoder_seconds": round(seconds, 2),
        "encoder_chunks_per_s": round(len(texts) / seconds, 1),
        "encoder_cpu_ms_per_chunk": round(1000 * cpu / len(texts), 1),
    }


async def fp32_encode(texts: list[str]) -> dict[str, float]:
    from app.embedders.local import LocalEmbedder

    reference = await LocalEmbedder.load(None)
    model = reference._model
    try:
        model.encode(texts[:64], batch_size=32, show_progress_bar=False)  # warm up
        started = time.perf_counter()
        model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        seconds = time.perf_counter() - started
    finally:
        await reference.close()
    return {"fp32_seconds": round(seconds, 2), "fp32_chunks_per_s": round(len(texts) / seconds, 1)}


async def run(args: argparse.Namespace) -> dict[str, object]:
    documents = load_corpus(args.corpus, args.limit)
    pdf = pdf_of([text for _, text in documents], args.pdf_pages) if args.pdf_pages else b""
    with tempfile.TemporaryDirectory() as tmp:
        server = start_embedded(Path(tmp))
        try:
            runs = []
            for count in args.workers:
                figures, texts = await pipeline(server.get_uri(), count, documents, pdf, Path(tmp))
                print(json.dumps(figures), file=sys.stderr, flush=True)
                runs.append((figures, texts))
        finally:
            server.cleanup()
    one, texts = runs[0]
    result: dict[str, object] = {"cores": available_cores(), "runs": [r for r, _ in runs]}
    result |= await encoder_alone(texts)
    result |= await fp32_encode(texts)
    result["ratio_encoder"] = round(one["chunks_per_s"] / result["encoder_chunks_per_s"], 3)
    result["ratio_fp32"] = round(one["chunks_per_s"] / result["fp32_chunks_per_s"], 3)
    result["ratio_encoder_cpu"] = round(
        result["encoder_cpu_ms_per_chunk"] / one["cpu_ms_per_chunk"], 3
    )
    if len(runs) > 1:  # throughput of N workers against N times one worker's
        result["scaling"] = {
            r["workers"]: round(r["chunks_per_s"] / (r["workers"] * one["chunks_per_s"]), 2)
            for r, _ in runs
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, help="only the first N passages")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="worker processes, one run each"
    )
    parser.add_argument("--pdf-pages", type=int, default=100, help="0: no PDF in the batch")
    # The smoke run reads the small set the tests ship, so it needs nothing outside the repo.
    args = parse_args(
        parser,
        limit=20,
        corpus=ROOT / "tests" / "data" / "ddhc-fr" / "corpus.jsonl",
        pdf_pages=3,
        workers=[1],
    )
    if args.workers[0] != 1:
        args.workers.insert(0, 1)  # the ratios are one worker's
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
