"""Errors as responses: JSON {"error": {...}} under the API, an HTML page elsewhere."""

from __future__ import annotations

import logging

from asyncpg.exceptions import DiskFullError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from app.db import unavailable
from app.errors import DISK_FULL, AppError
from app.templating import templates

log = logging.getLogger(__name__)

API_PREFIXES = ("/api", "/v1", "/healthz", "/readyz", "/metrics", "/openapi.json")
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def _respond(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    if request.url.path.startswith(API_PREFIXES):
        return JSONResponse(
            {"error": {"code": code, "message": message}}, status_code=status, headers=headers
        )
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "message": message},
        status_code=status,
        headers=headers,
    )


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    retry = getattr(exc, "retry_after", None)  # a 429 says when to come back
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return _respond(request, exc.status, exc.code, exc.message, headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return _respond(request, exc.status_code, code, str(exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
    if unavailable.is_unavailable(exc):
        return _database_unavailable(request, exc)
    if _disk_full(exc):
        return _insufficient_storage(request, exc)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = "Something went wrong on the server; the error has been logged."
    if request.url.path.startswith(API_PREFIXES):
        return JSONResponse(
            {"error": {"code": "internal_error", "message": message}}, status_code=500
        )
    return HTMLResponse(f"<h1>Server error</h1><p>{message}</p>", status_code=500)


def _database_unavailable(request: Request, exc: Exception) -> Response:
    """The database is out of reach: 503 with Retry-After, so clients and proxies retry."""
    log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
    retry = {"Retry-After": str(unavailable.RETRY_AFTER_SECONDS)}
    return _respond(request, 503, "database_unavailable", unavailable.MESSAGE, retry)


def _disk_full(exc: BaseException) -> bool:
    """Postgres out of disk (SQLSTATE 53100), or a local write that found none (ENOSPC, EDQUOT:
    Starlette's own multipart spool, say): the request failed for want of space, not a bug."""
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return _disk_full(exc.exceptions[0])
    if isinstance(exc, DiskFullError):
        return True
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def _insufficient_storage(request: Request, exc: Exception) -> Response:
    """507: nothing was stored (the transaction rolled back); an operator must free space."""
    log.error("out of disk space on %s %s: %r", request.method, request.url.path, exc)
    message = (
        "the server is out of disk space and nothing was stored: try again later,"
        " or ask the operator to free disk space"
    )
    return _respond(request, 507, "insufficient_storage", message)


exception_handlers = {
    AppError: app_error,
    HTTPException: http_exception,
    Exception: server_error,
    # Handled here rather than by the catch-all, which logs a traceback and re-raises.
    **dict.fromkeys(unavailable.HANDLED, server_error),
    DiskFullError: server_error,  # Postgres out of disk: 507, not a logged 500
}
