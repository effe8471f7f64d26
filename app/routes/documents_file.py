"""GET /api/documents/{id}/file: the stored original, streamed in pieces, with Range support.

A PDF opened from a citation lands on the cited page with a #page=N fragment, which the
browser's viewer reads; Range lets that viewer (and download managers) fetch only what they need.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.auth.access import require_document
from app.auth.policy import policy
from app.db import document_files as file_sql
from app.errors import NotFound
from app.resources import Resources
from app.routes.deps import parse_uuid, resources_of

PIECE = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Shown inline (the browser opens them); anything else is offered as a download.
INLINE = {"application/pdf", "text/plain", "text/markdown"}


def parse_range(header: str | None, length: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single byte range; None for the whole file.

    Raises ValueError for a range that cannot be satisfied (416)."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multiple or malformed ranges: RFC 9110 lets us send the whole file
    first, last = match.groups()
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise ValueError
        return max(length - suffix, 0), length - 1
    start = int(first)
    end = min(int(last), length - 1) if last else length - 1
    if start >= length or end < start:
        raise ValueError
    return start, end


def _disposition(source: str, media_type: str) -> str:
    name = source.rstrip("/").rsplit("/", 1)[-1] or "document"
    kind = "inline" if media_type in INLINE else "attachment"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def _pieces(
    resources: Resources, document_id: UUID, start: int, end: int
) -> AsyncIterator[bytes]:
    # The stream acquires its own connection once per piece: a slow reader holds no
    # pooled connection between pieces.
    position = start
    while position <= end:
        size = min(PIECE, end - position + 1)
        async with resources.pool.acquire() as conn:
            piece = await file_sql.read_piece(conn, document_id, position, size)
        if not piece:
            return
        yield piece
        position += len(piece)


@policy("reader")
async def document_file(request: Request) -> Response:
    document_id = parse_uuid(request.path_params["id"], "document")
    await require_document(request, "read", document_id)  # 404 outside readable collections
    resources = resources_of(request)
    async with resources.pool.acquire() as conn:
        info = await file_sql.file_info(conn, document_id)
    if info is None:
        raise NotFound(f"there is no stored file for document {document_id}")
    length = info["length"]
    media_type = info["media_type"]
    if media_type == "text/markdown" or media_type.startswith("text/"):
        media_type = f"{media_type}; charset=utf-8"
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": _disposition(info["source"], info["media_type"]),
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
    }
    try:
        wanted = parse_range(request.headers.get("range"), length)
    except ValueError:
        # A JSON error like every other 4xx of the API, with the Content-Range RFC 9110 asks for.
        return JSONResponse(
            {
                "error": {
                    "code": "range_not_satisfiable",
                    "message": f"the Range {request.headers['range']!r} is outside the file's "
                    f"{length} bytes",
                }
            },
            status_code=416,
            headers={"Accept-Ranges": "bytes", "Content-Range": f"bytes */{length}"},
        )
    if length == 0:
        return Response(b"", media_type=media_type, headers=headers)
    start, end = wanted or (0, length - 1)
    headers["Content-Length"] = str(end - start + 1)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{length}"
    if request.method == "HEAD":
        return Response(status_code=status, media_type=media_type, headers=headers)
    return StreamingResponse(
        _pieces(resources, document_id, start, end),
        status_code=status,
        media_type=media_type,
        headers=headers,
    )


routes = [Route("/api/documents/{id}/file", document_file, methods=["GET", "HEAD"])]
