"""/mcp: the MCP Streamable HTTP endpoint, mounted among the app's routes.

Stateless: every POST is served on its own (progress notifications ride its SSE response),
so any gunicorn worker can answer any request and nothing is kept between them. The session
manager runs for the app's lifetime (`open_session_manager`, entered by the lifespan) and is
found in the request's state.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.auth.policy import declare
from app.auth.principal import Principal
from app.mcp.tools import build_server

STATE_KEY = "mcp"
PATH = "/mcp"
KEY_ONLY = (
    "the MCP server takes API keys only: create one on the account page and send it as "
    "Authorization: Bearer <key>"
)
MAX_BODY_BYTES = 256 * 1024  # one JSON-RPC message; a question is at most a few KB


@asynccontextmanager
async def open_session_manager() -> AsyncIterator[StreamableHTTPSessionManager]:
    """The MCP session manager, running until the block ends (one per app lifespan)."""
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
        manager: StreamableHTTPSessionManager = scope["state"][STATE_KEY]
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
