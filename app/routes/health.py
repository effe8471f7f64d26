"""Liveness and readiness."""

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.policy import policy
from app.db.migrate import pending
from app.resources import worker_stopped
from app.routes.deps import resources_of

log = logging.getLogger(__name__)
DB_DOWN = "the database cannot be reached or did not answer in time; see the server log"


@policy("public", authenticate=False)  # alive whatever the database does
async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


@policy("public", authenticate=False)  # says itself what the database does
async def readyz(request: Request) -> JSONResponse:
    try:
        async with resources_of(request).pool.acquire(timeout=5) as conn:
            missing = await pending(conn)
    except Exception as exc:
        # The exception's text may name hosts, users or paths: it goes to the log only.
        log.warning("readiness check: the database is unavailable: %r", exc)
        return JSONResponse({"status": "unavailable", "database": DB_DOWN}, status_code=503)
    if missing:
        return JSONResponse(
            {"status": "unavailable", "pending_migrations": missing}, status_code=503
        )
    if stopped := worker_stopped(resources_of(request)):
        return JSONResponse({"status": "unavailable", "worker": stopped}, status_code=503)
    return JSONResponse({"status": "ready"})


routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
