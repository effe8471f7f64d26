"""Upload, list, show and delete documents."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import asyncpg
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.access import (
    collection_id,
    document_filter,
    readable_ids,
    require,
    require_document,
    require_role,
)
from app.auth.audit import audit
from app.auth.policy import policy
from app.db import document_list
from app.db import documents as document_sql
from app.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from app.infra.sse import EventStream
from app.ingest import formats
from app.ingest.accept import Accepted, accept_document
from app.ingest.fetch import fetch
from app.ingest.spool import read_pieces, spool
from app.rag.protocol import PING_SECONDS
from app.routes.deps import (
    capped_receive,
    parse_collection_name,
    parse_uuid,
    read_json,
    resources_of,
    whole_number,
)

log = logging.getLogger(__name__)

# Room for the multipart boundaries and headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


@policy("editor", limit="uploads")
async def upload(request: Request) -> Response:
    """A multipart `file` field, spooled to local disk in bounded pieces (hashed as it goes),
    checked, then copied into Postgres in parts: never whole in memory."""
    require_role(request, "editor")  # before reading a byte of the body
    resources = resources_of(request)
    settings = resources.settings
    limit = settings.max_upload_bytes
    too_large = f"the file is larger than MAX_UPLOAD_MB ({settings.max_upload_mb} MB)"
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return await upload_url(request)
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "send the document as multipart/form-data with the file in a field named 'file',"
            ' or JSON {"url": ...}'
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(too_large)
    capped = Request(
        request.scope, capped_receive(request.receive, limit + MULTIPART_OVERHEAD, too_large)
    )
    async with capped.form(max_files=1, max_fields=10) as form:
        upload_file = form.get("file")
        if not isinstance(upload_file, UploadFile) or not upload_file.filename:
            raise BadRequest("no file: send the document in a multipart field named 'file'")
        filename = upload_file.filename
        collection = parse_collection_name(form.get("collection"))
        replace = _flag(form.get("replace") or request.query_params.get("replace"), "replace")
        target = await require(request, "write", collection)  # may create it
        fmt = formats.for_filename(filename)
        pieces = read_pieces(upload_file.read)
        async with spool(pieces, settings.data_dir / "uploads", limit, too_large) as file:
            async with resources.pool.acquire() as conn, conn.transaction():
                result = await accept_document(
                    conn, file, source=filename, fmt=fmt, collection_id=target, replace=replace
                )
    return _accepted(result)


def _flag(value: object, name: str) -> bool:
    """A form or query flag: true/false (1/0, yes/no); absent is false."""
    if value is None or value == "":
        return False
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "false", "0", "no"):
        return text in ("true", "1", "yes")
    raise BadRequest(f"{name} is true or false")


async def upload_url(request: Request) -> Response:
    """JSON {"url": ...}: fetched now (spooled like an upload), so a bad URL answers 4xx."""
    resources = resources_of(request)
    settings = resources.settings
    body = await read_json(request)
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url.strip() or len(url) > 2048:
        raise BadRequest('send JSON {"url": "https://..."} with the address of a document')
    collection = parse_collection_name(body.get("collection"))
    target = await require(request, "write", collection)  # may create it
    async with fetch(
        resources.http,
        url.strip(),
        max_bytes=settings.max_upload_bytes,
        timeout=settings.url_timeout_seconds,
        allow_private=settings.allow_private_urls,
        directory=settings.data_dir / "uploads",
        allowed_ports=settings.url_ports,
    ) as fetched:
        async with resources.pool.acquire() as conn, conn.transaction():
            result = await accept_document(
                conn,
                fetched.file,
                source=fetched.url,
                fmt=fetched.format,
                collection_id=target,
            )
    return _accepted(result)


def _accepted(result: Accepted) -> Response:
    return JSONResponse(
        {
            "document": document_sql.to_json(result.document),
            "duplicate": result.duplicate,
            "replaced": result.replaced,
        },
        status_code=200 if result.duplicate else 202,
    )


STATUSES = ("queued", "processing", "ready", "failed")


@policy("reader")
async def list_documents(request: Request) -> JSONResponse:
    """Newest first, `limit` (default 500) at a time from `offset`, by `collection`/`status`;
    `uploaded_as`: only uploads of that file name (the page offers to replace one)."""
    params = request.query_params
    collection = parse_collection_name(params.get("collection"), default=None)
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    limit = whole_number(params.get("limit", "500"), "limit", 1, 500)
    offset = whole_number(params.get("offset", "0"), "offset")
    uploaded_as = params.get("uploaded_as") or None
    # One collection: the one its name means to the caller (404 or 409 as for any name).
    readable = (
        [await collection_id(request, collection)]
        if collection is not None
        else await readable_ids(request)
    )
    async with resources_of(request).pool.acquire() as conn:
        rows = await document_list.page(
            conn,
            status=status,
            limit=limit,
            offset=offset,
            readable=readable,
            uploaded_as=uploaded_as,
        )
        counts = await document_list.status_counts(conn, readable)
    return JSONResponse(
        {"documents": [document_sql.to_json(row) for row in rows], "counts": counts}
    )


@policy("reader")
async def get_document(request: Request) -> JSONResponse:
    document_id = parse_uuid(request.path_params["id"], "document")
    await require_document(request, "read", document_id)
    async with resources_of(request).pool.acquire() as conn:
        row = await document_sql.get_document(conn, document_id)
    if row is None:
        raise NotFound(f"there is no document {document_id}")
    return JSONResponse({"document": document_sql.to_json(row)})


@policy("editor")
async def delete_document(request: Request) -> Response:
    document_id = parse_uuid(request.path_params["id"], "document")
    await require_document(request, "write", document_id)
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        deleted = await document_sql.delete_document(conn, document_id)
        if not deleted:
            raise NotFound(f"there is no document {document_id}")
        await audit(request, conn, "document_deleted", target=str(document_id))
    return Response(status_code=204)


@policy("reader")
async def document_events(request: Request) -> Response:
    """SSE: `status` and `progress` events of every document, fed by NOTIFY document_events."""
    hub = resources_of(request).document_events
    assert hub is not None
    visible = await document_filter(request)

    async def stream() -> AsyncIterator[dict[str, str]]:
        # The stream owns its subscription and ends with an error event, never an exception.
        try:
            async with hub.subscribe() as queue:
                yield {"event": "listening", "data": "{}"}
                while (payload := await queue.get()) is not None:
                    event = json.loads(payload)
                    if await visible(str(event.get("id"))):
                        yield {"event": event["type"], "data": payload}
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("document event stream ended: %s", exc)
        yield {
            "event": "error",
            "data": json.dumps(
                {"code": "events_unavailable", "message": "lost the database; reconnect"}
            ),
        }

    return EventStream(stream(), ping=PING_SECONDS)


routes = [
    Route("/api/documents", upload, methods=["POST"]),
    Route("/api/documents", list_documents, methods=["GET"]),
    Route("/api/documents/events", document_events, methods=["GET"]),
    Route("/api/documents/{id}", get_document, methods=["GET"]),
    Route("/api/documents/{id}", delete_document, methods=["DELETE"]),
]
