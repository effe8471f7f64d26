"""Read-only share links of a conversation: a snapshot, revocable, optionally expiring.

POST /api/conversations/{id}/share makes a link to the conversation as it is now; DELETE
revokes every link of it. GET /shared/{token} shows the snapshot to signed-in users (to
anyone when the link is public and PUBLIC_SHARE_LINKS allows it); each cited passage opens
only for a viewer who may read its document. The conversation itself stays its owner's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth import tokens
from app.auth.access import principal_of, sign_in_needed
from app.auth.errors import Forbidden
from app.auth.policy import policy
from app.db import access as access_sql
from app.db import passages as passage_sql
from app.db import shares as share_sql
from app.errors import BadRequest, NotFound
from app.routes.deps import parse_uuid, read_json, resources_of
from app.routes.passages import without_leading_headings
from app.templating import templates
from app.text.markdown import render

MAX_SHARE_DAYS = 365
PREFIX = "/shared/"
GONE = "This share link does not exist, was revoked by its owner or has expired."
PUBLIC_OFF = (
    "public links are switched off on this site: share with signed-in users, or ask an "
    "admin to set PUBLIC_SHARE_LINKS=true"
)


async def _options(request: Request) -> tuple[bool, int | None]:
    """(public, expires_in_days) from an optional JSON body."""
    if request.headers.get("content-length", "0") == "0" and not request.headers.get(
        "transfer-encoding"
    ):
        return False, None
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest('send {"expires_in_days": optional, "public": optional} or nothing')
    public, days = body.get("public", False), body.get("expires_in_days")
    if not isinstance(public, bool):
        raise BadRequest("public must be true or false")
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_SHARE_DAYS
    ):
        raise BadRequest(f"expires_in_days must be a whole number from 1 to {MAX_SHARE_DAYS}")
    return public, days


@policy("reader")
async def create_share(request: Request) -> JSONResponse:
    conversation_id = parse_uuid(request.path_params["id"], "conversation")
    owner = principal_of(request)
    public, days = await _options(request)
    resources = resources_of(request)
    if public and not resources.settings.public_share_links:
        raise Forbidden(PUBLIC_OFF, code="public_links_off")
    token = tokens.new_secret()
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    async with resources.pool.acquire() as conn:
        row = await share_sql.create(
            conn,
            conversation_id,
            tokens.digest(token),
            owner_id=owner.user_id,
            public=public,
            expires_at=expires,
        )
    if row is None:
        raise NotFound(f"there is no conversation {conversation_id}")
    site = request.scope["state"].get("site_origin", "")
    return JSONResponse({"url": f"{site}{PREFIX}{token}", **_link(row)}, status_code=201)


def _link(row: Any) -> dict[str, Any]:
    return {
        "public": row["public"],
        "created_at": row["created_at"].isoformat(),
        "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
    }


@policy("reader")
async def list_shares(request: Request) -> JSONResponse:
    """The conversation's live links (their addresses are not kept: only their digests)."""
    conversation_id = parse_uuid(request.path_params["id"], "conversation")
    owner = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        rows = await share_sql.live(conn, conversation_id, owner_id=owner.user_id)
    if rows is None:
        raise NotFound(f"there is no conversation {conversation_id}")
    return JSONResponse({"links": [_link(r) for r in rows]})


@policy("reader")
async def revoke_shares(request: Request) -> Response:
    conversation_id = parse_uuid(request.path_params["id"], "conversation")
    owner = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        revoked = await share_sql.revoke(conn, conversation_id, owner_id=owner.user_id)
    if revoked is None:
        raise NotFound(f"there is no conversation {conversation_id}")
    return Response(status_code=204)


async def _sources(request: Request, messages: list[dict[str, Any]]) -> dict[int, dict]:
    """chunk id -> {"state": open|no_access|changed|sign_in, "text"?}: what this viewer may
    see of each cited passage, decided by their own access, as GET /api/passages/{id} would.
    A passage edited or gone since its answer is "changed": its new text is not the one cited."""
    viewer = request.scope["state"].get("principal")
    kept = {
        s["chunk_id"]: s.get("digest")
        for m in messages
        for s in m.get("sources") or []
        if "chunk_id" in s
    }
    if viewer is None:
        return {chunk: {"state": "sign_in"} for chunk in kept}
    seen: dict[int, dict] = {}
    async with resources_of(request).pool.acquire() as conn:
        for chunk in sorted(kept):
            row = await passage_sql.get(conn, chunk)
            if row is None:
                seen[chunk] = {"state": "changed"}
                continue
            access = await access_sql.document_access(
                conn, row["document_id"], viewer.user_id, viewer.admin, viewer.editor
            )
            if access is None or not access["readable"]:
                seen[chunk] = {"state": "no_access"}
            elif kept[chunk] and kept[chunk] != row["digest"]:
                seen[chunk] = {"state": "changed"}
            else:
                seen[chunk] = {
                    "state": "open",
                    "text": without_leading_headings(row["text"]),
                    "heading_path": list(row["heading_path"]),
                }
    return seen


# Public: the page decides itself (a public link needs no sign-in; others redirect).
@policy("public", secrets=("token",))
async def shared_page(request: Request) -> Response:
    token = request.path_params["token"]
    resources = resources_of(request)
    async with resources.pool.acquire() as conn:
        row = await share_sql.by_token(conn, tokens.digest(token))
    if row is None or not row["live"]:
        return templates.TemplateResponse(
            request, "error.html", {"status": 404, "message": GONE}, status_code=404
        )
    public = row["public"] and resources.settings.public_share_links
    viewer = request.scope["state"].get("principal")
    if viewer is None and not public:
        return sign_in_needed(request, request.url.path)
    messages = list(row["messages"])
    for message in messages:
        if message["role"] == "assistant":
            message["html"] = render(message["content"])
    return templates.TemplateResponse(
        request,
        "shared.html",
        {
            "page": "shared",
            "share": row,
            "messages": messages,
            "passages": await _sources(request, messages),
            "viewer": viewer,
        },
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )


routes = [
    Route("/api/conversations/{id}/share", list_shares, methods=["GET"]),
    Route("/api/conversations/{id}/share", create_share, methods=["POST"]),
    Route("/api/conversations/{id}/share", revoke_shares, methods=["DELETE"]),
    Route(PREFIX + "{token}", shared_page, methods=["GET"]),
]
