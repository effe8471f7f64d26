"""Collections for the pickers: list them, create an empty one, delete one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.access import collection_id, principal_of, readable_ids, require, require_role
from app.auth.errors import Forbidden
from app.auth.policy import policy
from app.db import access as access_sql
from app.db import collections as collection_sql
from app.db import document_list
from app.errors import BadRequest, Conflict, NotFound
from app.routes.deps import parse_collection_name, read_json, resources_of

# ?delete_documents=...: the person confirmed that the collection's documents go with it.
FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}


@policy("reader")
async def list_collections(request: Request) -> JSONResponse:
    readable = await readable_ids(request)
    principal = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        rows = await document_list.collections(conn, readable)
    # So the page offers "Delete" and the assistant's settings only where the server would
    # allow them (app/routes/assistants.py).
    manages = {
        r["id"]: principal.admin or (principal.editor and r["owner_id"] == principal.user_id)
        for r in rows
    }
    return JSONResponse(
        {
            "collections": [
                {
                    "id": r["id"],
                    "name": r["name"],
                    "mine": r["owner_id"] == principal.user_id,
                    "document_count": r["document_count"],
                    "can_delete": r["id"] != collection_sql.DEFAULT_ID and manages[r["id"]],
                    "can_configure": manages[r["id"]],
                }
                for r in rows
            ]
        }
    )


@policy("editor")
async def create_collection(request: Request) -> JSONResponse:
    body = await read_json(request)
    raw = body.get("name") if isinstance(body, dict) else None
    name = parse_collection_name(raw, default=None)
    if name is None or name.startswith("id:"):
        raise BadRequest('send {"name": "..."} with the name of the new collection')
    # Editors and admins; a new one is private to its creator, an existing one must be theirs.
    await require(request, "write", name)
    return JSONResponse({"collection": {"name": name}}, status_code=201)


@policy("editor")
async def delete_collection(request: Request) -> Response:
    """Delete a collection (its owner or an admin): an empty one at once; one that holds
    documents only with ?delete_documents=true, which deletes them with it."""
    principal = require_role(request, "editor")
    name = parse_collection_name(request.path_params["name"], default=None)
    assert name is not None  # the route matches a non-empty segment
    raw_flag = request.query_params.get("delete_documents", "").lower()
    if raw_flag not in FLAGS:
        raise BadRequest("delete_documents is true or false", code="bad_flag")
    with_documents = FLAGS[raw_flag]
    if name in (collection_sql.DEFAULT, f"id:{collection_sql.DEFAULT_ID}"):
        raise Conflict(
            "the default collection receives uploads that name no collection and cannot be "
            "deleted; delete its documents instead",
            code="default_collection",
        )
    chosen = await collection_id(request, name)  # the one the name means to the caller
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        row = await access_sql.deletion_facts(conn, chosen, principal.user_id, principal.admin)
        if row is None or not row["readable"]:
            raise NotFound(f"there is no collection {name!r}", code="unknown_collection")
        if not row["deletable"]:
            raise Forbidden(f"only the owner of the collection {name!r} or an admin may delete it")
        count = row["document_count"]
        if count and not with_documents:
            raise Conflict(
                f"the collection {name!r} holds {count} document{'s' if count != 1 else ''}: "
                "delete them first, or send ?delete_documents=true to delete them with it",
                code="collection_not_empty",
            )
        await collection_sql.delete_by_id(conn, row["id"])
    return Response(status_code=204)


routes = [
    Route("/api/collections", list_collections, methods=["GET"]),
    Route("/api/collections", create_collection, methods=["POST"]),
    Route("/api/collections/{name}", delete_collection, methods=["DELETE"]),
]
