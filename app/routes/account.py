"""The signed-in user's own account: password and API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth import passwords, sessions, tokens
from app.auth.access import principal_of
from app.auth.audit import audit
from app.auth.errors import Forbidden
from app.auth.policy import policy
from app.db import users as user_sql
from app.errors import BadRequest, NotFound
from app.routes.deps import password_gate, read_json, resources_of
from app.templating import templates

MAX_KEY_DAYS = 3650
# What a key may do beyond acting as its user: "keys" lets it create more keys.
KEY_SCOPES = ("keys",)


def key_json(row: asyncpg.Record) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "prefix": row["prefix"],
        "name": row["name"],
        "created_at": when(row["created_at"]),
        "expires_at": when(row["expires_at"]),
        "last_used_at": when(row["last_used_at"]),
        "revoked_at": when(row["revoked_at"]),
        "scopes": list(row["scopes"]),
    }


@policy("reader")
async def account_page(request: Request) -> Response:
    principal = principal_of(request)
    return templates.TemplateResponse(
        request, "account.html", {"user": principal, "page": "account"}
    )


@policy("reader")
async def change_password(request: Request) -> Response:
    """Ends every session of the user (this browser gets a fresh one) and, unless
    "keep_api_keys" is true, revokes every API key: whoever knew the old password may have
    made some."""
    principal = principal_of(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest('send {"current_password": ..., "new_password": ...}')
    new = passwords.check_new(body.get("new_password"))
    current = body.get("current_password")
    keep_keys = body.get("keep_api_keys", False)
    if not isinstance(keep_keys, bool):
        raise BadRequest("keep_api_keys must be true or false")
    resources = resources_of(request)
    async with resources.pool.acquire() as conn:
        row = await user_sql.by_id(conn, principal.user_id)
    gate = password_gate(request)
    if not isinstance(current, str) or not await gate.verify(row["password_hash"], current):
        raise Forbidden("the current password is wrong", code="wrong_password")
    new_hash = await gate.hash(new)
    async with resources.pool.acquire() as conn, conn.transaction():
        await user_sql.set_password(conn, principal.user_id, new_hash)  # ends every session
        revoked = 0 if keep_keys else await user_sql.revoke_keys(conn, principal.user_id)
        await audit(request, conn, "password_changed", details={"keys_revoked": revoked})
        session_id = None
        if principal.via == "session":
            session_id = await sessions.start(conn, principal.user_id, resources.settings.auth)
    response = JSONResponse({"ok": True, "keys_revoked": revoked})
    if session_id is not None:
        sessions.set_cookie(
            request, response, session_id, resources.settings.auth.session_max_seconds
        )
    return response


@policy("reader")
async def list_keys(request: Request) -> JSONResponse:
    principal = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        rows = await user_sql.list_keys(conn, principal.user_id)
    return JSONResponse({"keys": [key_json(r) for r in rows]})


@policy("reader")
async def create_key(request: Request) -> JSONResponse:
    """A new key for the caller, shown once in the answer. A key may make another only with
    the `keys` scope: a leaked key must not be able to mint its own replacements."""
    principal = principal_of(request)
    if principal.via == "key" and "keys" not in principal.scopes:
        raise Forbidden(
            "this API key may not create keys: sign in, or use a key made with the keys scope",
            code="missing_scope",
        )
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest('send {"name": "...", "expires_days": optional}')
    name = body.get("name") or "key"
    days = body.get("expires_days")
    if not isinstance(name, str) or len(name) > 100:
        raise BadRequest("the key's name must be text of up to 100 characters")
    if days is not None and (not isinstance(days, int) or not 1 <= days <= MAX_KEY_DAYS):
        raise BadRequest(f"expires_days must be a whole number from 1 to {MAX_KEY_DAYS}")
    scopes = body.get("scopes", [])
    if not isinstance(scopes, list) or not all(s in KEY_SCOPES for s in scopes):
        raise BadRequest(f"scopes must be a list of: {', '.join(KEY_SCOPES)}")
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    key, prefix = tokens.new_api_key()
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        row = await user_sql.create_key(
            conn, principal.user_id, name, prefix, tokens.digest(key), expires, tuple(scopes)
        )
        await audit(request, conn, "key_created", target=prefix, details={"scopes": scopes})
    return JSONResponse({"key": key, **key_json(row)}, status_code=201)


@policy("reader")
async def revoke_key(request: Request) -> Response:
    principal = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        if not await user_sql.revoke_key(conn, request.path_params["prefix"], principal.user_id):
            raise NotFound("you have no key with that prefix")
        await audit(request, conn, "key_revoked", target=request.path_params["prefix"])
    return Response(status_code=204)


routes = [
    Route("/account", account_page, methods=["GET"]),
    Route("/api/account/password", change_password, methods=["POST"]),
    Route("/api/account/keys", list_keys, methods=["GET"]),
    Route("/api/account/keys", create_key, methods=["POST"]),
    Route("/api/account/keys/{prefix}", revoke_key, methods=["DELETE"]),
]
