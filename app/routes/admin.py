"""Administration: users and roles, invitations, collections and their members."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth import tokens
from app.auth.access import collection_id, require_role
from app.auth.audit import audit
from app.auth.policy import policy
from app.db import access as access_sql
from app.db import users as user_sql
from app.errors import BadRequest, NotFound
from app.routes.deps import read_json, resources_of
from app.templating import templates


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object")
    return body


def _role(value: object) -> str:
    if value not in user_sql.ROLES:
        raise BadRequest(f"role must be one of {', '.join(user_sql.ROLES)}", code="bad_role")
    return str(value)


@policy("admin")
async def admin_page(request: Request) -> Response:
    principal = require_role(request, "admin")
    return templates.TemplateResponse(request, "admin.html", {"user": principal, "page": "admin"})


@policy("admin")
async def list_users(request: Request) -> JSONResponse:
    require_role(request, "admin")
    async with resources_of(request).pool.acquire() as conn:
        rows = await user_sql.list_users(conn)
    return JSONResponse(
        {
            "users": [
                {
                    "id": str(r["id"]),
                    "email": r["email"],
                    "role": r["role"],
                    "created_at": r["created_at"].isoformat(),
                    "disabled": r["disabled_at"] is not None,
                }
                for r in rows
            ]
        }
    )


@policy("admin")
async def update_user(request: Request) -> Response:
    """Change a user's role ({"role": ...}) or disable them ({"disabled": true}): a disabled
    user's sessions end, their keys open nothing and no sign-in lets them in."""
    principal = require_role(request, "admin")
    try:
        user_id = UUID(request.path_params["id"])
    except ValueError:
        raise NotFound("there is no such user") from None
    body = await _body(request)
    role = _role(body["role"]) if "role" in body else None
    disabled = body.get("disabled")
    if role is None and not isinstance(disabled, bool):
        raise BadRequest('send {"role": "editor"} or {"disabled": true}')
    if user_id == principal.user_id and (disabled or role not in (None, "admin")):
        raise BadRequest(
            "you cannot disable yourself or take the admin role from yourself", code="last_admin"
        )
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        if role is not None:
            if not await user_sql.set_role(conn, user_id, role):
                raise NotFound("there is no such user")
            await audit(request, conn, "role_changed", target=str(user_id), details={"role": role})
        if isinstance(disabled, bool):
            if not await user_sql.set_disabled(conn, user_id, disabled):
                raise NotFound("there is no such user")
            action = "user_disabled" if disabled else "user_enabled"
            await audit(request, conn, action, target=str(user_id))
        row = await user_sql.by_id(conn, user_id)
    return JSONResponse(
        {"id": str(user_id), "role": row["role"], "disabled": row["disabled_at"] is not None}
    )


@policy("admin")
async def create_invitation(request: Request) -> JSONResponse:
    """An invitation link, shown once: whoever opens it may create an account with the role."""
    principal = require_role(request, "admin")
    body = await _body(request)
    role = _role(body.get("role", "reader"))
    email = body.get("email") or None
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise BadRequest("email must be an email address, or left out")
    token = tokens.new_secret()
    resources = resources_of(request)
    async with resources.pool.acquire() as conn:
        expires = await user_sql.create_invitation(
            conn,
            tokens.digest(token),
            role,
            email,
            principal.user_id,
            resources.settings.auth.invitation_seconds,
        )
        await audit(request, conn, "invitation_created", details={"role": role, "email": email})
    site = request.scope["state"].get("site_origin", "")
    return JSONResponse(
        {
            "url": f"{site}/invite/{token}",
            "token": token,
            "role": role,
            "expires_at": expires.isoformat(),
        },
        status_code=201,
    )


@policy("admin")
async def list_invitations(request: Request) -> JSONResponse:
    require_role(request, "admin")
    async with resources_of(request).pool.acquire() as conn:
        rows = await user_sql.list_invitations(conn)
    return JSONResponse(
        {
            "invitations": [
                {
                    "role": r["role"],
                    "email": r["email"],
                    "created_at": r["created_at"].isoformat(),
                    "expires_at": r["expires_at"].isoformat(),
                    "used": r["used_at"] is not None,
                }
                for r in rows
            ]
        }
    )


@policy("admin")
async def list_collections(request: Request) -> JSONResponse:
    require_role(request, "admin")
    async with resources_of(request).pool.acquire() as conn:
        rows = await access_sql.list_collections(conn)
    return JSONResponse({"collections": [dict(r) for r in rows]})


@policy("admin")
async def set_visibility(request: Request) -> JSONResponse:
    require_role(request, "admin")
    visibility = (await _body(request)).get("visibility")
    if visibility not in ("private", "shared"):
        raise BadRequest("visibility must be private or shared")
    name = request.path_params["name"]
    chosen = await collection_id(request, name)
    async with resources_of(request).pool.acquire() as conn:
        if not await access_sql.set_visibility(conn, chosen, visibility):
            raise NotFound(f"there is no collection {name!r}")
        await audit(
            request,
            conn,
            "collection_sharing_changed",
            target=name,
            details={"visibility": visibility},
        )
    return JSONResponse({"name": name, "visibility": visibility})


@policy("admin")
async def add_member(request: Request) -> JSONResponse:
    require_role(request, "admin")
    email = (await _body(request)).get("email")
    name = request.path_params["name"]
    if not isinstance(email, str):
        raise BadRequest('send {"email": "..."} of the user to add')
    chosen = await collection_id(request, name)
    async with resources_of(request).pool.acquire() as conn:
        if not await access_sql.add_member(conn, chosen, email):
            raise NotFound(f"there is no collection {name!r} or no user {email!r}")
        await audit(
            request,
            conn,
            "collection_sharing_changed",
            target=name,
            details={"member_added": email},
        )
    return JSONResponse({"name": name, "member": email}, status_code=201)


@policy("admin")
async def remove_member(request: Request) -> Response:
    require_role(request, "admin")
    name, email = request.path_params["name"], request.path_params["email"]
    chosen = await collection_id(request, name)
    async with resources_of(request).pool.acquire() as conn:
        if not await access_sql.remove_member(conn, chosen, email):
            raise NotFound(f"{email!r} is not a member of {name!r}")
        await audit(
            request,
            conn,
            "collection_sharing_changed",
            target=name,
            details={"member_removed": email},
        )
    return Response(status_code=204)


@policy("admin")
async def list_all_keys(request: Request) -> JSONResponse:
    require_role(request, "admin")
    async with resources_of(request).pool.acquire() as conn:
        rows = await user_sql.list_keys(conn)
    from app.routes.account import key_json

    return JSONResponse({"keys": [{**key_json(r), "email": r["email"]} for r in rows]})


@policy("admin")
async def revoke_any_key(request: Request) -> Response:
    require_role(request, "admin")
    async with resources_of(request).pool.acquire() as conn:
        if not await user_sql.revoke_key(conn, request.path_params["prefix"]):
            raise NotFound("there is no key with that prefix")
        await audit(request, conn, "key_revoked", target=request.path_params["prefix"])
    return Response(status_code=204)


routes = [
    Route("/admin", admin_page, methods=["GET"]),
    Route("/api/admin/users", list_users, methods=["GET"]),
    Route("/api/admin/users/{id}", update_user, methods=["PATCH"]),
    Route("/api/admin/invitations", list_invitations, methods=["GET"]),
    Route("/api/admin/invitations", create_invitation, methods=["POST"]),
    Route("/api/admin/collections", list_collections, methods=["GET"]),
    Route("/api/admin/collections/{name}", set_visibility, methods=["PATCH"]),
    Route("/api/admin/collections/{name}/members", add_member, methods=["POST"]),
    Route("/api/admin/collections/{name}/members/{email}", remove_member, methods=["DELETE"]),
    Route("/api/admin/keys", list_all_keys, methods=["GET"]),
    Route("/api/admin/keys/{prefix}", revoke_any_key, methods=["DELETE"]),
]
