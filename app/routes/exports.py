"""Exports: one conversation as Markdown or JSON; all of an account's data as a zip."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.access import principal_of
from app.auth.policy import policy
from app.db import exports as export_sql
from app.db import users as user_sql
from app.errors import BadRequest, NotFound
from app.routes.account import key_json
from app.routes.deps import parse_uuid, resources_of
from app.text.transcript import to_markdown

FORMATS = ("md", "json")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _file_name(title: str, extension: str) -> str:
    """A plain ASCII file name from a title (a header cannot carry any text safely)."""
    stem = _UNSAFE.sub("-", title).strip("-.")[:60] or "conversation"
    return f"{stem}.{extension}"


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@policy("reader")
async def export_conversation(request: Request) -> Response:
    """GET /api/conversations/{id}/export?format=md|json (the caller's own only)."""
    conversation_id = parse_uuid(request.path_params["id"], "conversation")
    fmt = request.query_params.get("format", "md")
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    user = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        found = await export_sql.conversations(
            conn, user_id=user.user_id, conversation_id=conversation_id
        )
    if not found:
        raise NotFound(f"there is no conversation {conversation_id}")
    conversation = found[0]
    name = _file_name(conversation["title"], fmt)
    if fmt == "json":
        body = {"exported_at": _now(), "conversation": conversation}
        return JSONResponse(body, headers=_attachment(name))
    return Response(
        to_markdown(conversation, _now()),
        media_type="text/markdown; charset=utf-8",
        headers=_attachment(name),
    )


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


@policy("reader")
async def export_account(request: Request) -> Response:
    """GET /api/account/export: the caller's conversations (JSON and Markdown), feedback and
    API key names (never the keys) as a zip."""
    user = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        conversations = await export_sql.conversations(conn, user_id=user.user_id)
        feedback = await export_sql.feedback(conn, user_id=user.user_id)
        keys = [key_json(r) for r in await user_sql.list_keys(conn, user.user_id)]
    now = _now()
    files = {
        "account.json": _json({"email": user.email, "role": user.role, "exported_at": now}),
        "conversations.json": _json(conversations),
        "feedback.json": _json(feedback),
        "api_keys.json": _json(keys),
    }
    for number, conversation in enumerate(conversations, start=1):
        name = _file_name(conversation["title"], "md")
        files[f"conversations/{number:04d}-{name}"] = to_markdown(conversation, now)
    body = await anyio.to_thread.run_sync(_zip, files)
    stamp = now[:10]
    return Response(
        body, media_type="application/zip", headers=_attachment(f"account-export-{stamp}.zip")
    )


routes = [
    Route("/api/conversations/{id}/export", export_conversation, methods=["GET"]),
    Route("/api/account/export", export_account, methods=["GET"]),
]
