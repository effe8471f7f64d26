"""The audit log for admins: GET /api/admin/audit (JSON) and /admin/audit (a page).

Filters: `actor` (an email), `action` (one of app.db.audit.ACTIONS), `since` (an ISO date or
time, UTC when it names no zone); `before` (an event id) pages on; `limit` up to 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.access import require_role
from app.auth.policy import policy
from app.db import audit as audit_sql
from app.errors import BadRequest
from app.routes.deps import resources_of, whole_number
from app.templating import templates

MAX_LIMIT = 500


def _filters(request: Request) -> dict[str, Any]:
    params = request.query_params
    action = params.get("action") or None
    if action is not None and action not in audit_sql.ACTIONS:
        raise BadRequest(f"action must be one of: {', '.join(audit_sql.ACTIONS)}")
    since = None
    if raw := params.get("since"):
        try:
            since = datetime.fromisoformat(raw)
        except ValueError:
            raise BadRequest(
                f"since must be an ISO date or time such as 2026-01-31 or "
                f"2026-01-31T08:00:00Z, not {raw!r}"
            ) from None
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    before = params.get("before")
    return {
        "actor": (params.get("actor") or "").strip()[:254] or None,
        "action": action,
        "since": since,
        "before_id": whole_number(before, "before") if before else None,
        "limit": whole_number(params.get("limit") or "100", "limit", 1, MAX_LIMIT),
    }


def _event(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": row["at"].isoformat(),
        "action": row["action"],
        "actor_id": str(row["actor_id"]) if row["actor_id"] else None,
        "actor": row["actor_email"],
        "address": row["address"],
        "user_agent": row["user_agent"],
        "target": row["target"],
        "details": row["details"] if isinstance(row["details"], dict) else {},
    }


async def _events(request: Request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    require_role(request, "admin")
    filters = _filters(request)
    async with resources_of(request).pool.acquire() as conn:
        rows = await audit_sql.events(conn, **filters)
    return [_event(r) for r in rows], filters


@policy("admin")
async def list_events(request: Request) -> JSONResponse:
    events, filters = await _events(request)
    more = len(events) == filters["limit"]
    return JSONResponse({"events": events, "next_before": events[-1]["id"] if more else None})


@policy("admin")
async def audit_page(request: Request) -> Response:
    events, filters = await _events(request)
    return templates.TemplateResponse(
        request,
        "audit.html",
        {
            "page": "admin",
            "events": events,
            "filters": filters,
            "actions": audit_sql.ACTIONS,
            "retention_days": resources_of(request).settings.auth.audit_retention_days,
            "next_before": events[-1]["id"] if len(events) == filters["limit"] else None,
        },
    )


routes = [
    Route("/api/admin/audit", list_events, methods=["GET"]),
    Route("/admin/audit", audit_page, methods=["GET"]),
]
