"""`python -m app sources add|list|sync`: sources from the command line.

`add s3` reads the secret from AWS_SECRET_ACCESS_KEY only, so it never shows in `ps`.
`sync NAME` queues the sync through the job queue like the API does, runs a worker here
until that sync has ended (another worker may take it: it waits all the same) and prints
the counts; its last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from app.config import Settings
from app.db import collections as collection_sql
from app.db import sources as source_sql
from app.errors import BadRequest, NotFound
from app.sources import KINDS, Network, SourceSettingsError, check_address, settings_for, web


def add_commands(commands: Any) -> None:
    sources = commands.add_parser(
        "sources", help="folders, websites and S3 buckets kept in sync with a collection"
    )
    actions = sources.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add a source: add folder NAME PATH | add web NAME URL | "
        "add s3 NAME s3://BUCKET/PREFIX --endpoint URL",
        description="The s3 key is read from --access-key-id or AWS_ACCESS_KEY_ID, the secret "
        "from AWS_SECRET_ACCESS_KEY only (a flag would show it in `ps`).",
    )
    add.add_argument("kind", choices=list(KINDS))
    add.add_argument("name")
    add.add_argument("location", metavar="PATH|URL")
    add.add_argument("--collection", default=collection_sql.DEFAULT)
    add.add_argument("--every", type=int, metavar="MINUTES", help="sync every MINUTES")
    add.add_argument("--max-pages", type=int, help=f"web: pages at most ({web.MAX_PAGES})")
    add.add_argument("--max-depth", type=int, help=f"web: links from the start ({web.MAX_DEPTH})")
    add.add_argument("--endpoint", metavar="URL", help="s3: the S3-compatible endpoint")
    add.add_argument("--region", help="s3: the region (us-east-1)")
    add.add_argument("--access-key-id", help="s3: the key id (default: AWS_ACCESS_KEY_ID)")
    actions.add_parser("list", help="list sources with their last sync")
    sync = actions.add_parser("sync", help="sync a source now and wait for it")
    sync.add_argument("name")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from app.resources import shutdown, startup

    resources = await startup(settings, local=args.action == "sync")
    try:
        async with resources.pool.acquire() as conn:
            if args.action == "add":
                return await _add(conn, settings, args)
            if args.action == "list":
                return await _list(conn)
        return await _sync(resources.pool, args.name)
    finally:
        await shutdown(resources)


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gives, by kind (app/sources/KIND.py checks them)."""
    if args.kind == "folder":
        return {"path": args.location}
    if args.kind == "web":
        return {"url": args.location, "max_pages": args.max_pages, "max_depth": args.max_depth}
    return {
        "url": args.location,
        "endpoint": args.endpoint,
        "region": args.region,
        "access_key_id": args.access_key_id or os.environ.get("AWS_ACCESS_KEY_ID"),
        "secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
    }


async def _add(conn: Any, settings: Settings, args: argparse.Namespace) -> int:
    if args.every is not None and args.every < 1:
        raise BadRequest("--every is a number of minutes, at least 1")
    config = settings_for(args.kind, _given(args))
    await check_address(args.kind, config, Network.of(settings))
    async with conn.transaction():
        collection_id = await collection_sql.get_or_create(conn, args.collection)
        source_id = await source_sql.create(
            conn,
            name=args.name,
            kind=args.kind,
            collection_id=collection_id,
            settings=config,
            every_minutes=args.every,
            created_by=None,
        )
        if source_id is None:
            raise SourceSettingsError(f"there is already a source named {args.name!r}")
        if args.every:
            await source_sql.schedule(conn, source_id, delay_minutes=0)
    print(f"added {args.kind} source {args.name!r} (id {source_id}) to {args.collection!r}")
    return 0


async def _list(conn: Any) -> int:
    for row in await source_sql.list_sources(conn):
        shown = source_sql.to_json(row)
        every = f"every {row['every_minutes']} min" if row["every_minutes"] else "on demand"
        print(
            f"{row['name']}\t{row['kind']}\t{row['collection']}\t{every}\t"
            f"last {shown['last_sync_at'] or 'never'}\t{row['last_error'] or 'ok'}"
        )
    return 0


async def _sync(pool: Any, name: str) -> int:
    async with pool.acquire() as conn, conn.transaction():
        source = await source_sql.by_name(conn, name)
        if source is None:
            raise NotFound(f"there is no source named {name!r}; see `python -m app sources list`")
        job_id, _ = await source_sql.request_sync(conn, source["id"])
    while True:
        await asyncio.sleep(0.2)
        async with pool.acquire() as conn:
            status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
            if status in ("done", "failed", None):
                source = await source_sql.by_name(conn, name)
                break
    if source is None:
        raise NotFound(f"the source {name!r} was deleted during its sync")
    counts = dict(source["last_counts"] or {})
    if source["last_error"]:
        print(f"sync of {name!r}: {source['last_error']}", file=sys.stderr)
    print(json.dumps({"source": name, **counts, "error": source["last_error"]}))
    return 1 if status == "failed" or source["last_error"] else 0
