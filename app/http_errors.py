"""Errors as responses: JSON {"error": {...}} under the API, an HTML page elsewhere."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from app.errors import AppError
from app.templating import templates

log = logging.getLogger(__name__)

API_PREFIXES = ("/api", "/v1", "/healthz", "/readyz")
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def _respond(request: Request, status: int, code: str, message: str) -> Response:
    if request.url.path.startswith(API_PREFIXES):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return _respond(request, exc.status, exc.code, exc.message)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return _respond(request, exc.status_code, code, str(exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = "Something went wrong on the server; the error has been logged."
    if request.url.path.startswith(API_PREFIXES):
        return JSONResponse(
            {"error": {"code": "internal_error", "message": message}}, status_code=500
        )
    return HTMLResponse(f"<h1>Server error</h1><p>{message}</p>", status_code=500)


exception_handlers = {AppError: app_error, HTTPException: http_exception, Exception: server_error}
