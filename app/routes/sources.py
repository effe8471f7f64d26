"""Sources: list them, add one, sync one now (the sync itself runs as a job: app/jobs/sync.py).

Editors and admins only: readers neither see nor change sources. An editor works with the
sources of the collections they may write; `folder` sources read the server's disks, so
only admins add them (and only under SOURCE_ROOTS). `web` and `s3` addresses follow the
URL-ingestion rules (ALLOW_PRIVATE_URLS, URL_PORTS). A source's secret is write-only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.access import readable_ids, require, require_role
from app.auth.errors import Forbidden
from app.auth.policy import policy
from app.db import access as access_sql
from app.db import sources as source_sql
from app.errors import BadRequest, Conflict, NotFound
from app.routes.deps import parse_collection_name, read_json, resources_of, whole_number
from app.sources import KINDS, Network, check_address, settings_for

NAME_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64"
MAX_EVERY_MINUTES = 525_600  # a year: the schema's bound


@policy("editor")
async def list_sources(request: Request) -> JSONResponse:
    principal = require_role(request, "editor")
    readable = None if principal.admin else await readable_ids(request)
    async with resources_of(request).pool.acquire() as conn:
        rows = await source_sql.list_sources(conn, readable)
    return JSONResponse({"sources": [source_sql.to_json(row) for row in rows]})


@policy("editor")
async def add_source(request: Request) -> JSONResponse:
    principal = require_role(request, "editor")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest(
            'send JSON {"kind": "web", "name": "...", "settings": {"url": "https://..."}}'
        )
    kind, name = body.get("kind"), body.get("name")
    if not isinstance(kind, str) or kind not in KINDS:  # KINDS is a dict: str keys only
        raise BadRequest(f"kind is one of: {', '.join(KINDS)}", code="bad_source")
    if not isinstance(name, str) or not source_sql.NAME.fullmatch(name):
        raise BadRequest(f"name: {NAME_RULE} characters", code="bad_source")
    every = body.get("every_minutes")
    if every is not None and (
        not isinstance(every, int) or isinstance(every, bool) or not 1 <= every <= MAX_EVERY_MINUTES
    ):
        raise BadRequest(
            f"every_minutes is a whole number from 1 to {MAX_EVERY_MINUTES}, or null",
            code="bad_source",
        )
    if kind == "folder" and not principal.admin:
        raise Forbidden("only admins add folder sources: they read the server's own disks")
    given = body.get("settings")
    if given is None and kind == "folder":  # the first shape: {"kind": "folder", "path"}
        given = {"path": body.get("path")}
    collection = parse_collection_name(body.get("collection"))
    assert collection is not None  # the default collection when none is named
    config = settings_for(kind, given)
    settings = resources_of(request).settings
    await check_address(kind, config, Network.of(settings))
    collection_id = await require(request, "write", collection)
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        source_id = await source_sql.create(
            conn,
            name=name,
            kind=kind,
            collection_id=collection_id,
            settings=config,
            every_minutes=every,
            created_by=principal.user_id,
        )
        if source_id is None:
            raise Conflict(f"there is already a source named {name!r}", code="source_exists")
        if every:  # the first sync now; each sync queues the next
            await source_sql.schedule(conn, source_id, delay_minutes=0)
        row = await source_sql.get(conn, source_id)
    return JSONResponse({"source": source_sql.to_json(row)}, status_code=201)


async def _writable_source(request: Request, conn: Any) -> int:
    """The id of the path's source, if the caller may change its collection; else 404/403."""
    principal = require_role(request, "editor")
    source_id = whole_number(request.path_params["id"], "source id", 1, 2**31 - 1)
    source = await source_sql.get(conn, source_id)
    access = source and await access_sql.collection_access(
        conn, source["collection_id"], principal.user_id, principal.admin, principal.editor
    )
    if not access or not access["readable"]:
        raise NotFound(f"there is no source {source_id}", code="unknown_source")
    if not access["writable"]:
        name = source["collection"]
        raise Forbidden(f"you may read the collection {name!r} but not change it")
    return source_id


@policy("editor")
async def sync_source(request: Request) -> JSONResponse:
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        source_id = await _writable_source(request, conn)
        job_id, running = await source_sql.request_sync(conn, source_id)
    return JSONResponse({"job_id": job_id, "already_running": running}, status_code=202)


@policy("editor")
async def change_source(request: Request) -> JSONResponse:
    """{"paused": true|false}: a paused source is synced only on demand."""
    body = await read_json(request)
    paused = body.get("paused") if isinstance(body, dict) else None
    if not isinstance(paused, bool):
        raise BadRequest('send JSON {"paused": true} or {"paused": false}', code="bad_source")
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        source_id = await _writable_source(request, conn)
        await source_sql.set_paused(conn, source_id, paused)
        row = await source_sql.get(conn, source_id)
    return JSONResponse({"source": source_sql.to_json(row)})


@policy("editor")
async def delete_source(request: Request) -> Response:
    """Delete a source and the documents it brought; ?keep_documents=true keeps them in the
    collection, no longer synced."""
    keep = request.query_params.get("keep_documents", "false")
    if keep not in ("true", "false"):
        raise BadRequest("keep_documents is true or false", code="bad_source")
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        source_id = await _writable_source(request, conn)
        if keep == "true":
            await source_sql.detach_documents(conn, source_id)
        await source_sql.delete(conn, source_id)
    return Response(status_code=204)


routes = [
    Route("/api/sources", list_sources, methods=["GET"]),
    Route("/api/sources", add_source, methods=["POST"]),
    Route("/api/sources/{id}/sync", sync_source, methods=["POST"]),
    Route("/api/sources/{id}", change_source, methods=["PATCH"]),
    Route("/api/sources/{id}", delete_source, methods=["DELETE"]),
]
