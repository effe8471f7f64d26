"""Collections for the pickers: list them, create an empty one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.access import readable_ids, require
from app.auth.policy import policy
from app.db import document_list
from app.errors import BadRequest
from app.routes.deps import parse_collection_name, read_json, resources_of


@policy("reader")
async def list_collections(request: Request) -> JSONResponse:
    readable = await readable_ids(request)
    async with resources_of(request).pool.acquire() as conn:
        rows = await document_list.collections(conn, readable)
    return JSONResponse(
        {"collections": [{"name": r["name"], "document_count": r["document_count"]} for r in rows]}
    )


@policy("editor")
async def create_collection(request: Request) -> JSONResponse:
    body = await read_json(request)
    raw = body.get("name") if isinstance(body, dict) else None
    name = parse_collection_name(raw, default=None)
    if name is None:
        raise BadRequest('send {"name": "..."} with the name of the new collection')
    # Editors and admins; a new one is private to its creator, an existing one must be theirs.
    await require(request, "write", name)
    return JSONResponse({"collection": {"name": name}}, status_code=201)


routes = [
    Route("/api/collections", list_collections, methods=["GET"]),
    Route("/api/collections", create_collection, methods=["POST"]),
]
