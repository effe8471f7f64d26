"""Usage for admins: GET /api/admin/usage?days= (JSON) and the /admin/usage page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.access import require_role
from app.auth.policy import policy
from app.db import usage as usage_sql
from app.routes.deps import resources_of, whole_number
from app.templating import templates

MAX_DAYS = 366


async def _summary(request: Request) -> dict:
    require_role(request, "admin")
    days = whole_number(request.query_params.get("days", "30"), "days", 1, MAX_DAYS)
    async with resources_of(request).pool.acquire() as conn:
        return await usage_sql.summary(conn, days)


@policy("admin")
async def usage_json(request: Request) -> JSONResponse:
    return JSONResponse(await _summary(request))


@policy("admin")
async def usage_page(request: Request) -> Response:
    usage = await _summary(request)
    busiest = max((d["questions"] for d in usage["questions_per_day"]), default=0)
    return templates.TemplateResponse(
        request, "usage.html", {"page": "admin", "usage": usage, "busiest": busiest}
    )


routes = [
    Route("/api/admin/usage", usage_json, methods=["GET"]),
    Route("/admin/usage", usage_page, methods=["GET"]),
]
