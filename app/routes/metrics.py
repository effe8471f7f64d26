"""GET /metrics: Prometheus text, for loopback and private addresses (the scraper's network),
and for anyone else only with `Authorization: Bearer $METRICS_TOKEN` when that is set.

Behind Nginx the client address is the one Nginx saw (uvicorn trusts X-Forwarded-For only
from FORWARDED_ALLOW_IPS), and deploy/nginx.conf does not pass /metrics on at all.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.policy import policy
from app.db import stats
from app.errors import AppError
from app.infra.metrics import CONTENT_TYPE_LATEST, render
from app.routes.deps import resources_of


class MetricsForbidden(AppError):
    status = 403
    code = "forbidden"


def _private(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False  # e.g. a Unix socket's client: no address to judge
    return address.is_loopback or address.is_private


def _allowed(request: Request, token: str | None) -> bool:
    if _private(request.client.host if request.client else None):
        return True
    if not token:
        return False
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@policy("public")  # its own check: private addresses or METRICS_TOKEN
async def metrics(request: Request) -> Response:
    resources = resources_of(request)
    if not _allowed(request, resources.settings.metrics_token):
        raise MetricsForbidden(
            "/metrics is served to private addresses, or with the METRICS_TOKEN bearer token"
        )
    async with resources.pool.acquire() as conn:
        jobs = await stats.jobs_by_status(conn)
        documents = await stats.documents_by_status(conn)
        chunks = await stats.chunks_stored(conn)
    now = [
        ("ingest_jobs", "Ingestion jobs by state", "status", jobs),
        ("ingest_queue_depth", "Jobs waiting for a worker", "", {"": jobs["queued"]}),
        ("documents", "Documents by status", "status", documents),
        ("chunks_stored", "Chunks stored (rate of change: chunks per second)", "", {"": chunks}),
    ]
    return Response(render(now), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics)]
