"""`python -m app ingest PATH...` and `python -m app reindex`, with progress bars; and
`python -m app eval-answers DATASET`."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from tqdm import tqdm

from app.config import Settings
from app.db import documents as document_sql
from app.errors import AppError, DocumentTooLarge, IngestError
from app.ingest import formats
from app.ingest.accept import accept_document
from app.ingest.spool import hashed


def files_under(paths: list[str]) -> Iterator[Path]:
    """The given files, and the supported files anywhere under the given folders."""
    accepted = set(formats.suffixes())
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in accepted:
                    yield child
        else:
            yield path


async def ingest_command(settings: Settings, paths: list[str], collection: str = "default") -> int:
    """Queue each file, then run a worker here until all of them are ready or failed."""
    from app.resources import shutdown, startup

    resources = await startup(settings, local=True)  # migrations and an in-process worker
    problems: list[str] = []
    waiting: list[UUID] = []
    duplicates = 0
    try:
        for path in tqdm(list(files_under(paths)), desc="queue", unit="file", file=sys.stderr):
            try:
                if not path.is_file():
                    raise IngestError(f"{path} does not exist or is not a file")
                if path.stat().st_size > settings.max_upload_bytes:
                    raise DocumentTooLarge(f"{path} is larger than MAX_UPLOAD_MB")
                fmt = formats.for_filename(path.name)
                file = await hashed(path)  # read in pieces where it lies: no spool copy
                async with resources.pool.acquire() as conn, conn.transaction():
                    result = await accept_document(
                        conn, file, source=path.name, fmt=fmt, collection=collection
                    )
            except AppError as exc:
                problems.append(exc.message)
                continue
            if result.duplicate:
                duplicates += 1
            else:
                waiting.append(result.document["id"])
        failed = await _wait(resources.pool, waiting, problems)
    finally:
        await shutdown(resources)
    for problem in problems:
        print(f"  ! {problem}", file=sys.stderr)
    print(f"ingested {len(waiting) - failed}, already stored {duplicates}, failed {len(problems)}")
    return 1 if problems else 0


async def _wait(pool, ids: list[UUID], problems: list[str]) -> int:
    """Show a bar until every queued document is ready or failed; return how many failed."""
    failed = 0
    pending = set(ids)
    with tqdm(total=len(ids), desc="ingest", unit="doc", file=sys.stderr) as bar:
        while pending:
            await asyncio.sleep(0.3)
            async with pool.acquire() as conn:
                for document_id in list(pending):
                    row = await document_sql.get_document(conn, document_id)
                    if row is None or row["status"] in ("ready", "failed"):
                        pending.discard(document_id)
                        bar.update(1)
                        if row is not None and row["status"] == "failed":
                            failed += 1
                            problems.append(f"{row['source']}: {row['error']}")
    return failed


async def reindex_command(settings: Settings) -> int:
    from app.ingest.reindex import reindex
    from app.resources import shutdown, startup

    resources = await startup(settings, check_model=False, worker=True)
    started = time.perf_counter()
    try:
        with tqdm(desc="reindex", unit="chunk", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            count = await reindex(resources.pool, resources.embedder, progress)
    finally:
        await shutdown(resources)
    embedder = resources.embedder
    seconds = time.perf_counter() - started
    print(
        f"re-embedded {count} chunks with {embedder.name} ({embedder.dimension} dimensions)"
        f" in {seconds:.1f} s ({count / max(seconds, 1e-9):.1f} chunks/s); restart the web"
        " processes and workers with this model's settings now"
    )
    return 0


async def eval_answers_command(settings: Settings, args: Any) -> int:
    """`python -m app eval-answers DATASET`: see app/eval/answers.py."""
    from app.db.embedded import stop_embedded
    from app.db.pool import create_pool
    from app.embedders import load_embedder
    from app.eval.answers import evaluate_answers, format_report
    from app.eval.squad import load_queries, load_squad
    from app.llm import load_llm
    from app.resources import database_url, run_migrations

    def titles(text: str | None) -> frozenset[str]:
        return frozenset(t.strip() for t in (text or "").split(",") if t.strip())

    try:
        articles = load_squad(args.dataset, titles(args.articles))
        loaded = {a.title for a in articles}
        absent = [
            a
            for a in (load_squad(args.absent, titles(args.absent_articles)) if args.absent else [])
            if a.title not in loaded
        ]
        queries = [q for path in args.absent_queries or [] for q in load_queries(path)]
    except ValueError as exc:
        print(f"dataset error: {exc}", file=sys.stderr)
        return 2
    name = args.name or args.dataset.stem
    dsn, server = database_url(settings)
    try:
        await run_migrations(dsn)
        pool = await create_pool(dsn)
        embedder = await load_embedder(settings)
        llm = load_llm(settings) if args.llm else None
        try:
            report = await evaluate_answers(
                pool,
                embedder,
                articles,
                absent,
                name=name,
                per_kind=args.questions,
                llm=llm,
                queries=queries,
                half=args.half,
            )
        finally:
            if llm is not None:
                await llm.aclose()
            await embedder.close()
            await pool.close()
    finally:
        if server is not None:
            stop_embedded(server)
    print(json.dumps(report) if args.json else format_report(report))
    return 0
