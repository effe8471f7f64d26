"""Authorization, one call per handler: `user = await require(request, "write", collection)`.

Reading is decided in SQL (app.db.access): what a caller may not read is answered 404, as if
it did not exist; what it may read but not change is 403.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote
from uuid import UUID

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response

from app.auth.errors import Forbidden, Unauthorized
from app.auth.middleware import BAD_KEY
from app.auth.principal import Principal
from app.db import access as access_sql
from app.db import conversations as conversation_sql
from app.errors import Conflict, NotFound
from app.rag.retriever import Scope

ROLE_RANK = {"reader": 0, "editor": 1, "admin": 2}


def principal_of(conn: HTTPConnection) -> Principal:
    """The caller; the middleware lets no anonymous request reach a guarded route."""
    principal = conn.scope.get("state", {}).get("principal")
    if principal is None:
        raise Unauthorized("sign in, or send an API key as Authorization: Bearer <key>")
    return principal


def sign_in_needed(conn: HTTPConnection, next_path: str) -> Response:
    """What a public page answers an anonymous caller it will not serve: 401 to an API key
    that was refused (a program, which a redirect would only mislead), else the sign-in page."""
    if conn.scope["state"].get("key_refused"):
        raise Unauthorized(BAD_KEY, code="invalid_api_key")
    return RedirectResponse("/login?next=" + quote(next_path, safe="/"), 303)


def require_role(conn: HTTPConnection, role: str) -> Principal:
    """The caller, if their role is at least `role` (reader < editor < admin); else 403."""
    principal = principal_of(conn)
    if ROLE_RANK[principal.role] < ROLE_RANK[role]:
        raise Forbidden(f"this needs the {role} role; you are a {principal.role}")
    return principal


async def readable_ids(conn: HTTPConnection) -> list[int]:
    """Ids of the collections the caller may read (asked once per request)."""
    principal = principal_of(conn)
    if principal.readable is None:
        async with conn.scope["state"]["resources"].pool.acquire() as db:
            principal.readable = await access_sql.readable_ids(
                db, principal.user_id, principal.admin
            )
    return principal.readable


async def readable_scope(conn: HTTPConnection, scope: Scope) -> Scope:
    """The scope of a search or question, narrowed to what the caller may read (and a named
    collection to the one its name means to the caller: see `collection_id`)."""
    if scope.collection is not None:
        chosen = await collection_id(conn, scope.collection)
        return dataclasses.replace(scope, collection_ids=(chosen,))
    return dataclasses.replace(scope, collection_ids=tuple(await readable_ids(conn)))


async def _named(conn: HTTPConnection, principal: Principal, name: str) -> list[Any]:
    async with conn.scope["state"]["resources"].pool.acquire() as db:
        return await access_sql.named(
            db, name, principal.user_id, principal.admin, principal.editor
        )


def _one(name: str, found: list[Any]) -> Any | None:
    """The collection a name means among those the caller may read: their own, else the only
    one; None when none; 409 when several others share it."""
    if not found or found[0]["mine"] or len(found) == 1:
        return found[0] if found else None
    ids = ", ".join(f"id:{row['id']}" for row in found)
    raise Conflict(
        f"several collections you may read are named {name!r}: name one by its id ({ids})",
        code="ambiguous_collection",
    )


async def collection_id(conn: HTTPConnection, name: str) -> int:
    """The id of the collection `name` (or "id:N") means to the caller; 404 when they may
    read none of that name, as if it did not exist."""
    found = _one(name, await _named(conn, principal_of(conn), name))
    if found is None:
        raise NotFound(f"there is no collection {name!r}", code="unknown_collection")
    return found["id"]


async def require(conn: HTTPConnection, action: str, collection: str) -> int:
    """The id of a collection the caller may `read` or `write`. Writing to a name the caller
    may read none of creates a collection of that name, private to the caller (editors and
    admins only): names are unique per owner, so this tells nothing of others' collections."""
    principal = require_role(conn, "editor" if action == "write" else "reader")
    found = _one(collection, await _named(conn, principal, collection))
    if found is None:
        if action == "write" and not collection.startswith("id:"):
            async with conn.scope["state"]["resources"].pool.acquire() as db:
                return await access_sql.create_collection(db, collection, principal.user_id)
        raise NotFound(f"there is no collection {collection!r}", code="unknown_collection")
    if action == "write" and not found["writable"]:
        raise Forbidden(f"you may read the collection {collection!r} but not change it")
    return found["id"]


async def require_document(conn: HTTPConnection, action: str, document_id: UUID) -> Principal:
    """The caller, if they may `read` or `write` the document; 404 when they may not read it."""
    principal = principal_of(conn)
    async with conn.scope["state"]["resources"].pool.acquire() as db:
        row = await access_sql.document_access(
            db, document_id, principal.user_id, principal.admin, principal.editor
        )
    if row is None or not row["readable"]:
        raise NotFound(f"there is no document {document_id}")
    if action == "write" and not row["writable"]:
        raise Forbidden("you may read this document but not change it")
    return principal


async def document_filter(conn: HTTPConnection) -> Callable[[str], Awaitable[bool]]:
    """A check, for a stream of document events, that the caller may read each document
    (looked up once per document; admins see all)."""
    principal = principal_of(conn)
    pool = conn.scope["state"]["resources"].pool
    seen: dict[str, bool] = {}

    async def visible(document_id: str) -> bool:
        if principal.admin:
            return True
        if document_id not in seen:
            try:
                uuid = UUID(document_id)
            except ValueError:
                return False
            async with pool.acquire() as db:
                row = await access_sql.document_access(db, uuid, principal.user_id, False, False)
            seen[document_id] = row is not None and row["readable"]
        return seen[document_id]

    return visible


async def require_conversation(conn: HTTPConnection, conversation_id: object) -> None:
    """404 unless the conversation is the caller's (e.g. before resuming its answer stream)."""
    principal = principal_of(conn)
    try:
        uuid = UUID(str(conversation_id))
    except ValueError:
        raise NotFound("there is no such conversation") from None
    async with conn.scope["state"]["resources"].pool.acquire() as db:
        if await conversation_sql.get(db, uuid, user_id=principal.user_id) is None:
            raise NotFound(
                "that answer stream is no longer available (streams are kept for an hour); "
                "ask the question again",
                code="unknown_stream",
            )
