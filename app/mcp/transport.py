"""/mcp: the MCP Streamable HTTP endpoint, mounted among the app's routes.

Stateless: every POST is served on its own (progress notifications ride its SSE response),
so any gunicorn worker can answer any request and nothing is kept between them. The session
manager starts with the first /mcp request and runs until the app shuts down (`McpService`,
closed by the lifespan, found in the request's state).

The MCP SDK (and the pydantic models of the whole protocol) is imported then, not with the
app: 25 MB that a web worker nobody asks over MCP does not carry (bench/memory.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.auth.policy import declare
from app.auth.principal import Principal

log = logging.getLogger(__name__)

STATE_KEY = "mcp"
PATH = "/mcp"
KEY_ONLY = (
    "the MCP server takes API keys only: create one on the account page and send it as "
    "Authorization: Bearer <key>"
)
MAX_BODY_BYTES = 256 * 1024  # one JSON-RPC message; a question is at most a few KB


@asynccontextmanager
async def open_session_manager() -> AsyncIterator[Any]:
    """The MCP SDK's StreamableHTTPSessionManager, running until the block ends."""
    from mcp.server.transport_security import TransportSecuritySettings

    from app.mcp.tools import build_server

    server = build_server()
    # The Host check (ALLOWED_HOSTS) is the app's middleware's, in front of every route.
    server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        max_request_body_size=MAX_BODY_BYTES,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    async with manager.run():
        yield manager


class McpService:
    """The session manager of one app lifespan, started by the first request that needs it.

    The manager's task group must be entered and left by one task: it runs in a task of its
    own, which `aclose` (at shutdown) ends.
    """

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[Any] | None = None
        self._stop = asyncio.Event()

    async def manager(self) -> Any:
        if self._task is None or (self._task.done() and not self._stop.is_set()):
            self._ready = asyncio.get_running_loop().create_future()
            # A context of its own: not the first request's (its request id, its principal).
            self._task = asyncio.get_running_loop().create_task(
                self._run(self._ready), name="mcp", context=contextvars.Context()
            )
        assert self._ready is not None
        return await asyncio.shield(self._ready)

    async def _run(self, ready: asyncio.Future[Any]) -> None:
        try:
            async with open_session_manager() as manager:
                ready.set_result(manager)
                await self._stop.wait()
        except Exception as exc:
            if not ready.done():  # the requests waiting for it get the error
                ready.set_exception(exc)
            else:  # the next request starts another
                log.exception("the MCP session manager stopped")

    async def aclose(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


def mcp_caller(scope: Scope) -> Principal | None:
    """Who may use /mcp: the owner of a valid API key, nobody else. The app's middleware has
    already authenticated the request; a browser session is refused here, since an MCP client
    is a program and a cookie would let any page drive it."""
    principal: Principal | None = scope.get("state", {}).get("principal")
    return principal if principal is not None and principal.via == "key" else None


class McpEndpoint:
    """ASGI app for /mcp: the caller check, then the SDK's Streamable HTTP transport."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if mcp_caller(scope) is None:
            body = json.dumps({"error": {"code": "unauthorized", "message": KEY_ONLY}}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        service: McpService = scope["state"][STATE_KEY]
        manager = await service.manager()
        await manager.handle_request(scope, receive, send)


# Public to the middleware: McpEndpoint itself refuses any caller without an API key (401 with
# WWW-Authenticate, as MCP clients expect); each tool then checks access as the HTTP API does.
routes = [
    Route(
        PATH,
        declare(McpEndpoint(), "public"),
        methods=["GET", "POST", "DELETE"],
    )
]
