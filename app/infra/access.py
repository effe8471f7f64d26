"""ASGI middleware: a request id for every request, one log line and metrics when it ends.

The id comes from the X-Request-ID header (a proxy's, e.g. Nginx's $request_id) when it looks
like one, else it is made here; it is sent back as X-Request-ID and is on every log line the
request causes. A stream's line says how long it lasted and how it ended: its last event
(done, error, reconnect), or closed by the client, or cut by the server.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.infra import metrics
from app.infra.logging import request_id

log = logging.getLogger("app.access")

_VALID_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_EVENT = re.compile(rb"(?:^|\n)event: ?([A-Za-z_]+)")
_CODE = re.compile(rb'"code": ?"([A-Za-z0-9_]+)"')


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _VALID_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex


def _route(scope: Scope) -> str:
    # Starlette leaves the matched route in the scope: label by its template, not the path.
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = _request_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 0, "stream": False, "last": b"", "gone": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = list(message.get("headers", ()))
                for name, value in headers:
                    if name == b"content-type" and value.startswith(b"text/event-stream"):
                        state["stream"] = True
                        metrics.OPEN_STREAMS.labels("sse").inc()
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            elif state["stream"]:
                body = message.get("body", b"")
                if body and body[:1] != b":":  # not a ping
                    state["last"] = body
            await send(message)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                state["gone"] = True
            return message

        failed = False
        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except BaseException:
            failed = True
            raise
        finally:
            seconds = time.perf_counter() - started
            status = state["status"] or 500
            route = _route(scope)
            method = scope["method"]
            metrics.REQUESTS.labels(route, method, str(status)).inc()
            # The auth middleware's copy of the path, credentials in it redacted.
            path = scope.get("log_path", scope["path"])
            fields: dict[str, Any] = {
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            }
            if state["stream"]:
                metrics.OPEN_STREAMS.labels("sse").dec()
                ended = _ended(state["last"], state["gone"], failed)
                metrics.STREAM_SECONDS.labels("sse", ended).observe(seconds)
                fields["stream_ended"] = ended
            else:
                metrics.LATENCY.labels(route, method).observe(seconds)
            log.info("%s %s %d %.1fms", method, path, status, seconds * 1000, extra=fields)
            request_id.reset(token)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = _request_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        state: dict[str, Any] = {"open": False, "code": None, "by": "server"}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "websocket.accept":
                headers = list(message.get("headers") or ())
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
                state["open"] = True
                metrics.OPEN_STREAMS.labels("websocket").inc()
            elif message["type"] == "websocket.close" and state["code"] is None:
                state["code"] = message.get("code", 1000)
            await send(message)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and state["code"] is None:
                state["code"], state["by"] = message.get("code", 1005), "client"
            return message

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            ended = f"{state['by']}_close_{state['code']}" if state["code"] else "dropped"
            if state["open"]:
                metrics.OPEN_STREAMS.labels("websocket").dec()
                metrics.STREAM_SECONDS.labels("websocket", ended).observe(seconds)
            status = 101 if state["open"] else 403
            # Our WebSocket handler is not a Starlette route: one label for all of it.
            metrics.REQUESTS.labels("websocket", "WEBSOCKET", str(status)).inc()
            log.info(
                "WEBSOCKET %s %.1fms %s",
                scope.get("log_path", scope["path"]),
                seconds * 1000,
                ended,
                extra={
                    "method": "WEBSOCKET",
                    "path": scope.get("log_path", scope["path"]),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "stream_ended": ended,
                },
            )
            request_id.reset(token)


def _ended(last: bytes, gone: bool, failed: bool) -> str:
    """How an SSE stream ended, from its last event."""
    match = _EVENT.search(last)
    name = match.group(1).decode() if match else None
    if name in ("done", "reconnect"):
        return name
    if name == "message":  # an MCP stream (/mcp) ends with its JSON-RPC response
        return "done"
    if name == "error":
        code = _CODE.search(last)
        return f"error:{code.group(1).decode()}" if code else "error"
    if gone:
        return "client_closed"
    return "server_error" if failed else "cut"
