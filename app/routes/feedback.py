"""Thumbs up/down on answers: stored per message, listed for admins."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.access import principal_of, require_role
from app.auth.policy import policy
from app.db import feedback as feedback_sql
from app.errors import BadRequest, NotFound
from app.routes.deps import parse_uuid, read_json, resources_of

MAX_COMMENT = 2000


@policy("reader")
async def rate_message(request: Request) -> JSONResponse:
    """PUT {"rating": 1 | -1, "comment": optional}; the latest rating of a message wins."""
    message_id = parse_uuid(request.path_params["id"], "message")
    body = await read_json(request)
    rating = body.get("rating") if isinstance(body, dict) else None
    comment = body.get("comment", "") if isinstance(body, dict) else ""
    if rating not in (1, -1) or isinstance(rating, bool):
        raise BadRequest('send {"rating": 1} (helpful) or {"rating": -1} (not helpful)')
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise BadRequest(f"the comment must be text of at most {MAX_COMMENT} characters")
    user = principal_of(request)
    async with resources_of(request).pool.acquire() as conn:
        if not await feedback_sql.upsert(
            conn, message_id, rating, comment.strip(), user_id=user.user_id
        ):
            raise NotFound(f"there is no answer {message_id}")
    return JSONResponse({"feedback": {"message_id": str(message_id), "rating": rating}})


@policy("admin")
async def list_feedback(request: Request) -> JSONResponse:
    """The latest ratings, newest first (admins only)."""
    require_role(request, "admin")
    async with resources_of(request).pool.acquire() as conn:
        rows = await feedback_sql.recent(conn, 200)
    return JSONResponse(
        {
            "feedback": [
                {
                    "message_id": str(r["message_id"]),
                    "conversation_id": str(r["conversation_id"]),
                    "rating": r["rating"],
                    "comment": r["comment"],
                    "question": r["question"],
                    "answer": r["answer"],
                    "updated_at": r["updated_at"].isoformat(),
                }
                for r in rows
            ]
        }
    )


routes = [
    Route("/api/messages/{id}/feedback", rate_message, methods=["PUT"]),
    Route("/api/feedback", list_feedback, methods=["GET"]),
]
