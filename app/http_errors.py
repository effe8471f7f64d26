"""Errors as responses: JSON {"error": {...}} under the API, an HTML page elsewhere."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from app.db import unavailable
from app.errors import AppError
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
    return _respond(request, exc.status, exc.code, exc.message)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return _respond(request, exc.status_code, code, str(exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
    if unavailable.is_unavailable(exc):
        return _database_unavailable(request, exc)
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


exception_handlers = {
    AppError: app_error,
    HTTPException: http_exception,
    Exception: server_error,
    # Handled here rather than by the catch-all, which logs a traceback and re-raises.
    **dict.fromkeys(unavailable.HANDLED, server_error),
}
