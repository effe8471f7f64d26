"""Re-syncing a folder source down to the chunk, against a full sync.

    python bench/sync.py [--corpus ../shared/datasets/msmarco/corpus.jsonl] [--files 1000]
                         [--long 5] [--kind folder|web] [--smoke]

A folder of `--files` files: msmarco passages one per file, plus `--long` long documents
(markdown, sections of many passages as paragraphs). Full sync; then edit one paragraph in
1% of the files (the long documents among them), delete 1%, add 1%; re-sync; then re-sync
unchanged. `--kind web` serves the same folder over HTTP on loopback (Python's file server:
Last-Modified, 304 on If-Modified-Since) and syncs it as a `web` source from a sitemap.xml,
so the re-syncs also pay one conditional GET per page. Syncs run through the job queue with
a worker in this process, on a fresh embedded database with the configured embedder. The
last line is JSON with `resync_time_ratio` (re-sync / full sync seconds; goal <= 0.10),
`embedded_ratio` (chunks embedded / chunks whose text or heading path really changed; goal
<= 1.05) and what the unchanged re-sync embedded (goal 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402

from app.config import load_settings  # noqa: E402
from app.db import sources as source_sql  # noqa: E402
from app.db.embedded import create_database, start_embedded  # noqa: E402
from app.db.pool import create_pool  # noqa: E402
from app.embedders import load_embedder  # noqa: E402
from app.jobs.worker import Worker  # noqa: E402
from app.resources import run_migrations  # noqa: E402
from app.sources import settings_for  # noqa: E402
from bench.smoke import parse_args  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "datasets" / "msmarco" / "corpus.jsonl"
SECTIONS, PARAGRAPHS = 8, 12  # of each long document


def passages(path: Path) -> list[str]:
    if not path.exists() and path == DEFAULT_CORPUS:  # a checkout without ../shared (smoke)
        return [f"Passage {n} is about topic {n % 17} and holds word w{n}." for n in range(200)]
    with path.open() as lines:
        return [json.loads(line)["text"] for line in lines]


def build(folder: Path, texts: list[str], files: int, long: int) -> list[str]:
    """Write the folder; the long documents use passages after the single ones."""
    for n in range(files - long):
        (folder / f"p{n:05}.txt").write_text(texts[n] + "\n")
    start = files - long
    for d in range(long):
        sections = []
        for s in range(SECTIONS):
            body = [texts[start + (d * SECTIONS + s) * PARAGRAPHS + p] for p in range(PARAGRAPHS)]
            sections.append(f"## Section {s}\n\n" + "\n\n".join(body))
        (folder / f"long{d}.md").write_text(f"# Manual {d}\n\n" + "\n\n".join(sections) + "\n")
    return sorted(p.name for p in folder.iterdir())


def mutate(
    folder: Path, names: list[str], texts: list[str], next_text: int, rng: random.Random
) -> None:
    """Edit one paragraph in 1% of the files (every long one first), delete 1%, add 1%."""
    share = max(1, len(names) // 100)
    long = [n for n in names if n.endswith(".md")]
    short = [n for n in names if n.endswith(".txt")]
    rng.shuffle(short)
    edited = (long + short)[:share]
    for name in edited:
        path = folder / name
        paragraphs = path.read_text().split("\n\n")
        body = [i for i, p in enumerate(paragraphs) if not p.startswith("#")]
        i = body[len(body) // 2]
        paragraphs[i] = paragraphs[i].rstrip("\n") + " (Edited: this fact was checked again.)"
        path.write_text("\n\n".join(paragraphs).rstrip("\n") + "\n")
    for name in short[share : 2 * share]:
        (folder / name).unlink()
    for n in range(share):
        (folder / f"new{n:05}.txt").write_text(texts[next_text + n] + "\n")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """The folder over HTTP on loopback; yields its base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_sitemap(folder: Path, base: str) -> None:
    names = sorted(p.name for p in folder.iterdir() if p.suffix in (".txt", ".md"))
    urls = "".join(f"<url><loc>{base}/{name}</loc></url>" for name in names)
    (folder / "sitemap.xml").write_text(
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


async def snapshot(pool: Any, source_id: int) -> set[tuple[str, str, tuple[str, ...]]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT d.item_key, c.text, c.heading_path FROM chunks c
               JOIN documents d ON d.id = c.document_id WHERE d.source_id = $1""",
            source_id,
        )
    return {(r["item_key"], r["text"], tuple(r["heading_path"])) for r in rows}


async def sync(pool: Any, source_id: int) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        job_id, _ = await source_sql.request_sync(conn, source_id)
    while True:
        await asyncio.sleep(0.05)
        async with pool.acquire() as conn:
            status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
        if status == "failed":
            raise RuntimeError(f"the sync job failed (see the log above); job {job_id}")
        if status == "done":
            break
    seconds = time.perf_counter() - started
    async with pool.acquire() as conn:
        source = await source_sql.get(conn, source_id)
    if source["last_error"]:
        raise RuntimeError(source["last_error"])
    return seconds, dict(source["last_counts"])


async def run(corpus: Path, files: int, long: int, kind: str) -> dict[str, Any]:
    texts = passages(corpus)
    need = files - long + long * SECTIONS * PARAGRAPHS + files // 100 + 1
    if need > len(texts):
        raise SystemExit(f"the corpus has {len(texts)} passages; this run needs {need}")
    if kind == "web" and files + files // 100 > 2000:
        raise SystemExit("--kind web syncs at most 2000 pages (max_pages): use fewer --files")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp) / "roots" / "kb"
        folder.mkdir(parents=True)
        os.environ["SOURCE_ROOTS"] = str(Path(tmp) / "roots")
        names = build(folder, texts, files, long)
        given: dict[str, Any] = {"path": str(folder)}
        if kind == "web":
            base = stack.enter_context(served(folder))
            write_sitemap(folder, base)
            given = {"url": f"{base}/sitemap.xml", "max_pages": 2000}
        server = start_embedded(Path(tmp) / "db")
        try:
            dsn = await create_database(server.get_uri(), "bench")
            await run_migrations(dsn)
            pool = await create_pool(dsn)
            settings = dataclasses.replace(load_settings(), allow_private_urls=True)
            embedder = await load_embedder(settings)
            worker = Worker(pool, embedder, poll_seconds=0.2, settings=settings)
            task = asyncio.create_task(worker.run())
            try:
                async with pool.acquire() as conn:
                    source_id = await source_sql.create(
                        conn,
                        name="kb",
                        kind=kind,
                        collection_id=1,
                        settings=settings_for(kind, given),
                        every_minutes=None,
                        created_by=None,
                    )
                full_seconds, full = await sync(pool, source_id)
                before = await snapshot(pool, source_id)
                time.sleep(1.1)  # Last-Modified has whole seconds: edits must show in it
                mutate(folder, names, texts, need - files // 100 - 1, random.Random(7))
                if kind == "web":
                    write_sitemap(folder, base)
                resync_seconds, resync = await sync(pool, source_id)
                after = await snapshot(pool, source_id)
                unchanged_seconds, unchanged = await sync(pool, source_id)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await embedder.close()
                await pool.close()
        finally:
            server.cleanup()
    really_changed = len(after - before)
    return {
        "kind": kind,
        "files": files,
        "long_documents": long,
        "full_sync_seconds": round(full_seconds, 2),
        "full_chunks": full["chunks_embedded"],
        "resync_seconds": round(resync_seconds, 2),
        "resync": resync,
        "chunks_really_changed": really_changed,
        "unchanged_resync_seconds": round(unchanged_seconds, 2),
        "unchanged_resync_embedded": unchanged["chunks_embedded"],
        "resync_time_ratio": round(resync_seconds / full_seconds, 3),
        "embedded_ratio": round(resync["chunks_embedded"] / max(really_changed, 1), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--long", type=int, default=5, help="long multi-section documents")
    parser.add_argument("--kind", choices=["folder", "web"], default="folder")
    args = parse_args(parser, files=30, long=1)
    print(json.dumps(asyncio.run(run(args.corpus, args.files, args.long, args.kind))))


if __name__ == "__main__":
    main()
