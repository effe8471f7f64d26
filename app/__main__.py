"""Command line: python -m app {serve,migrate,worker,ingest,reindex,formats,eval,
eval-answers,users,keys}."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from app.config import Settings, load_settings
from app.db.search import Tuning
from app.errors import AppError, ConfigError, DatabaseSetupError
from app.infra.event_loop import WS_MAX_BYTES
from app.infra.logging import configure as configure_logging
from app.ingest import formats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app", description="AI RAG website: upload documents, ask cited questions."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="run everything locally: database, migrations, worker and web server"
    )
    serve.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: PORT or 8000)")
    serve.add_argument(
        "--reload", action="store_true", help="development: restart when app/ or templates change"
    )
    commands.add_parser("migrate", help="apply pending database migrations (Procfile release)")
    commands.add_parser("worker", help="run the ingestion worker (Procfile worker)")
    ingest = commands.add_parser(
        "ingest",
        help=f"ingest files and folders ({' '.join(formats.suffixes())}) with a progress bar",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--collection", default="default", help="collection to add them to")
    commands.add_parser("reindex", help="re-embed every chunk with the configured embedding model")
    commands.add_parser("formats", help="print the table of accepted file formats (README)")
    evaluate = commands.add_parser(
        "eval",
        help="score lexical, vector and hybrid search on a BEIR dataset against baselines",
    )
    evaluate.add_argument(
        "dataset", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/"
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    for field in fields(Tuning):
        evaluate.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=type(field.default),
            default=field.default,
            help=f"search tuning (default {field.default})",
        )
    answers = commands.add_parser(
        "eval-answers",
        help="score answers and declines on SQuAD 2.0-format questions (docs/answers.md)",
    )
    answers.add_argument("dataset", type=Path, help="SQuAD 2.0-format JSON file")
    answers.add_argument("--articles", help="comma-separated titles to load (default: all)")
    answers.add_argument(
        "--absent", type=Path, help="SQuAD file whose other articles' questions are asked too"
    )
    answers.add_argument("--absent-articles", help="comma-separated titles of --absent to use")
    answers.add_argument(
        "--absent-queries",
        type=Path,
        action="append",
        help="a BEIR queries.jsonl whose questions are asked too, as absent ones (repeatable)",
    )
    answers.add_argument(
        "--half", choices=("tune", "validate"), help="only this half of the questions (by id)"
    )
    answers.add_argument("--questions", type=int, default=100, help="questions of each kind")
    answers.add_argument("--name", help="name of the eval collection (default: file name)")
    answers.add_argument("--llm", action="store_true", help="answer with the configured LLM")
    answers.add_argument("--json", action="store_true", help="print one JSON object")
    from app.auth.cli import add_commands as add_auth_commands

    add_auth_commands(commands)
    from app.sources.cli import add_commands as add_source_commands

    add_source_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "formats":
        print(formats.markdown_table())
        return 0

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "serve":
            return serve_command(settings, args.host, args.port, reload=args.reload)
        if args.command == "migrate":
            return asyncio.run(migrate_command(settings))
        if args.command == "ingest":
            from app.commands import ingest_command

            return asyncio.run(ingest_command(settings, args.paths, args.collection))
        if args.command == "reindex":
            from app.commands import reindex_command

            return asyncio.run(reindex_command(settings))
        if args.command in ("users", "keys"):
            from app.auth.cli import run as auth_command

            return asyncio.run(auth_command(settings, args))
        if args.command == "eval-answers":
            from app.commands import eval_answers_command

            return asyncio.run(eval_answers_command(settings, args))
        if args.command == "sources":
            from app.sources.cli import run as sources_command

            return asyncio.run(sources_command(settings, args))
        if args.command == "eval":
            tuning = Tuning(**{f.name: getattr(args, f.name) for f in fields(Tuning)})
            return asyncio.run(eval_command(settings, args.dataset, tuning, args.json))
        return asyncio.run(worker_command(settings))
    except AppError as exc:  # expected: one line that says what to do, no traceback
        print(f"{_label(exc)}: {exc.message}", file=sys.stderr)
        return 1


def _label(exc: AppError) -> str:
    if isinstance(exc, ConfigError):
        return "configuration error"
    if isinstance(exc, DatabaseSetupError):
        return "database error"
    return "error"


def serve_command(
    settings: Settings, host: str | None, port: int | None, *, reload: bool = False
) -> int:
    from app.infra.port import PortInUse, ensure_free

    settings = replace(settings, host=host or settings.host, port=port or settings.port)
    try:  # before the imports, the database, the models and the migrations: those take seconds
        ensure_free(settings.host, settings.port)
    except PortInUse as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1

    import uvicorn

    from app.asgi import Application
    from app.auth_settings import default_hosts
    from app.infra.http_limits import HTTP
    from app.infra.logging import config_dict

    if not os.environ.get("ALLOWED_HOSTS"):  # the host serve binds, whatever HOST says
        settings = replace(
            settings, auth=replace(settings.auth, allowed_hosts=default_hosts(settings.host))
        )
    url = f"http://{settings.host}:{settings.port}"
    options = {
        "host": settings.host,
        "port": settings.port,
        "loop": "app.infra.event_loop:new_event_loop",
        "http": HTTP,  # httptools, with bounds on headers
        "log_level": settings.log_level.lower(),
        "log_config": config_dict(settings.log_level, settings.log_format),
        "access_log": False,  # app/infra/access.py writes the request lines
        "ws_max_size": WS_MAX_BYTES,
        "lifespan": "on",
    }
    if reload:
        # The reloader runs the app in a child process it restarts: it needs an import path.
        print(f"\n  Open {url} (reloading on changes)\n", flush=True)
        uvicorn.run(
            "app.__main__:reload_app",
            factory=True,
            reload=True,
            reload_dirs=["app", "templates", "static"],
            **options,
        )
        return 0
    app = Application(settings, local=True, on_ready=lambda: print(f"\n  Open {url}\n", flush=True))
    uvicorn.run(app, **options)
    return 0


def reload_app() -> Any:
    """The app for `serve --reload`, made afresh in each reloaded child (settings from the
    environment)."""
    from app.asgi import Application

    return Application(local=True)


async def migrate_command(settings: Settings) -> int:
    from app.db.embedded import stop_embedded
    from app.resources import database_url, run_migrations

    dsn, server = database_url(settings)
    try:
        applied = await run_migrations(dsn)
    finally:
        if server is not None:
            stop_embedded(server)
    print(
        f"applied {len(applied)} migration(s): {', '.join(applied)}"
        if applied
        else "schema is up to date"
    )
    return 0


async def eval_command(settings: Settings, dataset_dir: Path, tuning: Tuning, as_json: bool) -> int:
    from app.db.embedded import stop_embedded
    from app.db.pool import create_pool
    from app.db.search import apply_session_settings
    from app.embedders import load_embedder
    from app.eval.dataset import load_dataset
    from app.eval.run import evaluate, format_table
    from app.rerankers import load_reranker
    from app.resources import database_url, run_migrations

    try:
        dataset = load_dataset(dataset_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"dataset error: {exc}", file=sys.stderr)
        return 2
    dsn, server = database_url(settings)
    try:
        await run_migrations(dsn)
        # One connection, so the tuning's HNSW settings hold for every search.
        pool = await create_pool(dsn, min_size=1, max_size=1)
        async with pool.acquire() as conn:
            await apply_session_settings(conn, tuning)
        embedder = await load_embedder(settings)
        reranker = await load_reranker(settings)
        try:
            results = await evaluate(
                pool, embedder, dataset, tuning, reranker, settings.rerank_candidates
            )
        finally:
            await embedder.close()
            if reranker is not None:
                await reranker.close()
            await pool.close()
    finally:
        if server is not None:
            stop_embedded(server)
    print(json.dumps(results) if as_json else format_table(results))
    return 0


async def worker_command(settings: Settings) -> int:
    from app.jobs.worker import Worker
    from app.resources import shutdown, startup

    resources = await startup(settings, worker=True)
    worker = Worker(
        resources.pool,
        resources.embedder,
        lock_seconds=settings.worker_lock_seconds,
        settings=settings,
    )
    task = asyncio.create_task(worker.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    logging.getLogger("app.worker").info("worker started")
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await shutdown(resources)
    return 0


if __name__ == "__main__":
    sys.exit(main())
