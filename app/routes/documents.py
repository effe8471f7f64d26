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
    document_filter,
    readable_ids,
    require,
    require_document,
    require_role,
)
from app.db import documents as document_sql
from app.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from app.infra.sse import EventStream
from app.ingest.fetch import fetch
from app.ingest.parse import media_type_for
from app.ingest.spool import spool
from app.ingest.submit import prepare, submit
from app.routes.deps import (
    capped_receive,
    parse_collection_name,
    parse_uuid,
    read_json,
    resources_of,
)

log = logging.getLogger(__name__)

# Room for the multipart boundaries and headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


async def upload(request: Request) -> Response:
    """A multipart `file` field (streamed to disk in bounded pieces, never whole in memory)."""
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
        media_type = media_type_for(filename)
        uploads = settings.data_dir / "uploads"
        async with spool(upload_file.read, uploads, limit, too_large) as spooled:
            data = await spooled.read()
    return await _store(request, data, filename, media_type, collection, spooled.sha256)


async def upload_url(request: Request) -> Response:
    """JSON {"url": ...}: fetched now, so a bad URL answers 4xx at once."""
    resources = resources_of(request)
    settings = resources.settings
    body = await read_json(request)
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url.strip() or len(url) > 2048:
        raise BadRequest('send JSON {"url": "https://..."} with the address of a document')
    collection = parse_collection_name(body.get("collection"))
    fetched = await fetch(
        resources.http,
        url.strip(),
        max_bytes=settings.max_upload_bytes,
        timeout=settings.url_timeout_seconds,
        allow_private=settings.allow_private_urls,
    )
    return await _store(request, fetched.data, fetched.url, fetched.media_type, collection)


async def _store(
    request: Request,
    data: bytes,
    source: str,
    media_type: str,
    collection: str,
    sha256: str | None = None,
) -> Response:
    title = prepare(data, source, media_type)
    collection_id = await require(request, "write", collection)
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        result = await submit(
            conn,
            data=data,
            source=source,
            media_type=media_type,
            title=title,
            sha256=sha256,
            collection_id=collection_id,
        )
    return JSONResponse(
        {"document": document_sql.to_json(result.document), "duplicate": result.duplicate},
        status_code=200 if result.duplicate else 202,
    )


async def list_documents(request: Request) -> JSONResponse:
    collection = request.query_params.get("collection") or None
    readable = await readable_ids(request)
    async with resources_of(request).pool.acquire() as conn:
        rows = await document_sql.list_documents(conn, collection=collection, readable=readable)
    return JSONResponse({"documents": [document_sql.to_json(row) for row in rows]})


async def get_document(request: Request) -> JSONResponse:
    document_id = parse_uuid(request.path_params["id"], "document")
    await require_document(request, "read", document_id)
    async with resources_of(request).pool.acquire() as conn:
        row = await document_sql.get_document(conn, document_id)
    if row is None:
        raise NotFound(f"there is no document {document_id}")
    return JSONResponse({"document": document_sql.to_json(row)})


async def delete_document(request: Request) -> Response:
    document_id = parse_uuid(request.path_params["id"], "document")
    await require_document(request, "write", document_id)
    async with resources_of(request).pool.acquire() as conn:
        deleted = await document_sql.delete_document(conn, document_id)
    if not deleted:
        raise NotFound(f"there is no document {document_id}")
    return Response(status_code=204)


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

    return EventStream(stream(), ping=15)


routes = [
    Route("/api/documents", upload, methods=["POST"]),
    Route("/api/documents", list_documents, methods=["GET"]),
    Route("/api/documents/events", document_events, methods=["GET"]),
    Route("/api/documents/{id}", get_document, methods=["GET"]),
    Route("/api/documents/{id}", delete_document, methods=["DELETE"]),
]
