"""Stored conversations: list (search by title), read (messages with rendered HTML), rename,
delete."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.access import principal_of
from app.auth.policy import policy
from app.db import conversations as conversation_sql
from app.db import feedback as feedback_sql
from app.db import passages as passage_sql
from app.errors import BadRequest, NotFound
from app.routes.deps import parse_uuid, read_json, resources_of, whole_number
from app.text.markdown import render

MAX_LIMIT = 200
MAX_TITLE = 120


def _conversation(row: asyncpg.Record) -> dict[str, Any]:
    data = {
        "id": str(row["id"]),
        "title": row["title"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
    if "message_count" in row:
        data["message_count"] = row["message_count"]
    return data


@policy("reader")
async def list_conversations(request: Request) -> JSONResponse:
    limit = whole_number(request.query_params.get("limit", "50"), "limit", 1, MAX_LIMIT)
    query = request.query_params.get("q", "").strip()[:MAX_TITLE] or None
    user = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        rows = await conversation_sql.list_conversations(conn, limit, query, user_id=user.user_id)
    return JSONResponse({"conversations": [_conversation(r) for r in rows]})


@policy("reader")
async def get_conversation(request: Request) -> JSONResponse:
    conversation_id = parse_uuid(request.path_params["id"], "conversation")
    user = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        row = await conversation_sql.get(conn, conversation_id, user_id=user.user_id)
        if row is None:
            raise NotFound(f"there is no conversation {conversation_id}")
        messages = await conversation_sql.messages(conn, conversation_id)
        ratings = await feedback_sql.for_conversation(conn, conversation_id)
        cited = [s for m in messages for s in m["sources"] or []]
        now = await passage_sql.digests(
            conn, [s["chunk_id"] for s in cited if isinstance(s.get("chunk_id"), int)]
        )
    return JSONResponse(
        {
            "conversation": {
                **_conversation(row),
                "messages": [
                    {
                        "id": str(m["id"]),
                        "role": m["role"],
                        "content": m["content"],
                        "sources": m["sources"],
                        # interrupted: the answer was cut (content is what was streamed)
                        "status": m["status"],
                        # what the answer was (None: a question, or stored before 0013):
                        # "extractive" quotes without a model; answered false: declined
                        "provider": m["provider"],
                        "answered": m["answered"],
                        "unsupported_citations": m["unsupported_citations"],
                        # sources [n] whose passage changed or vanished since: the page says
                        # so instead of showing the new text
                        "changed_sources": [
                            s.get("n") for s in m["sources"] or [] if passage_sql.changed(s, now)
                        ],
                        # the answer as the page shows it once done: safe Markdown
                        "html": render(m["content"]) if m["role"] == "assistant" else None,
                        "rating": ratings.get(m["id"]),
                        "created_at": m["created_at"].isoformat(),
                    }
                    for m in messages
                ],
            }
        }
    )


@policy("reader")
async def delete_conversation(request: Request) -> Response:
    conversation_id = parse_uuid(request.path_params["id"], "conversation")
    user = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        if not await conversation_sql.delete(conn, conversation_id, user_id=user.user_id):
            raise NotFound(f"there is no conversation {conversation_id}")
    return Response(status_code=204)


@policy("reader")
async def rename_conversation(request: Request) -> JSONResponse:
    conversation_id = parse_uuid(request.path_params["id"], "conversation")
    body = await read_json(request)
    title = body.get("title") if isinstance(body, dict) else None
    if not isinstance(title, str) or not title.strip():
        raise BadRequest('send {"title": "..."} with a title that is not empty')
    title = " ".join(title.split())[:MAX_TITLE]
    user = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        if not await conversation_sql.rename(conn, conversation_id, title, user_id=user.user_id):
            raise NotFound(f"there is no conversation {conversation_id}")
        row = await conversation_sql.get(conn, conversation_id, user_id=user.user_id)
    return JSONResponse({"conversation": _conversation(row)})


routes = [
    Route("/api/conversations", list_conversations, methods=["GET"]),
    Route("/api/conversations/{id}", get_conversation, methods=["GET"]),
    Route("/api/conversations/{id}", delete_conversation, methods=["DELETE"]),
    Route("/api/conversations/{id}", rename_conversation, methods=["PATCH"]),
]
