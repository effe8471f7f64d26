"""Upload, list, show and delete documents."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.db import documents as document_sql
from app.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from app.ingest.parse import media_type_for
from app.ingest.spool import spool
from app.ingest.submit import prepare, submit
from app.routes.deps import capped_receive, parse_uuid, resources_of

# Room for the multipart boundaries and headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


async def upload(request: Request) -> Response:
    """A multipart `file` field (streamed to disk in bounded pieces, never whole in memory)."""
    resources = resources_of(request)
    settings = resources.settings
    limit = settings.max_upload_bytes
    too_large = f"the file is larger than MAX_UPLOAD_MB ({settings.max_upload_mb} MB)"
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "send the document as multipart/form-data with the file in a field named 'file'"
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
        media_type = media_type_for(filename)
        uploads = settings.data_dir / "uploads"
        async with spool(upload_file.read, uploads, limit, too_large) as spooled:
            data = await spooled.read()
    title = prepare(data, filename, media_type)
    async with resources.pool.acquire() as conn, conn.transaction():
        result = await submit(
            conn,
            data=data,
            source=filename,
            media_type=media_type,
            title=title,
            sha256=spooled.sha256,
        )
    return JSONResponse(
        {"document": document_sql.to_json(result.document), "duplicate": result.duplicate},
        status_code=200 if result.duplicate else 202,
    )


async def list_documents(request: Request) -> JSONResponse:
    async with resources_of(request).pool.acquire() as conn:
        rows = await document_sql.list_documents(conn)
    return JSONResponse({"documents": [document_sql.to_json(row) for row in rows]})


async def get_document(request: Request) -> JSONResponse:
    document_id = parse_uuid(request.path_params["id"], "document")
    async with resources_of(request).pool.acquire() as conn:
        row = await document_sql.get_document(conn, document_id)
    if row is None:
        raise NotFound(f"there is no document {document_id}")
    return JSONResponse({"document": document_sql.to_json(row)})


async def delete_document(request: Request) -> Response:
    document_id = parse_uuid(request.path_params["id"], "document")
    async with resources_of(request).pool.acquire() as conn:
        deleted = await document_sql.delete_document(conn, document_id)
    if not deleted:
        raise NotFound(f"there is no document {document_id}")
    return Response(status_code=204)


routes = [
    Route("/api/documents", upload, methods=["POST"]),
    Route("/api/documents", list_documents, methods=["GET"]),
    Route("/api/documents/{id}", get_document, methods=["GET"]),
    Route("/api/documents/{id}", delete_document, methods=["DELETE"]),
]
