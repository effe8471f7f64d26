"""The ASGI entry point: lifespan, HTTP (Starlette routes) and WebSocket (our own handler)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from app.auth.middleware import AuthMiddleware
from app.auth.setup import check_site_settings, offer_setup_token
from app.config import Settings, load_settings
from app.errors import AppError
from app.http_errors import exception_handlers
from app.infra.access import AccessLog
from app.infra.event_loop import CLEANUP_SECONDS
from app.infra.gc import tune_collector
from app.infra.metrics import start_sampler
from app.mcp import transport as mcp
from app.resources import Resources, shutdown, startup
from app.routes import routes
from app.websocket import chat_websocket

log = logging.getLogger(__name__)


class Application:
    """Dispatch on scope["type"]. `local=True` also migrates and runs an in-process worker."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        local: bool = False,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.local = local
        self.on_ready = on_ready
        self.http = Starlette(routes=[*routes, *mcp.routes], exception_handlers=exception_handlers)
        # Every HTTP request and WebSocket passes the host check and authentication first;
        # the access log is outside it, so refused requests are logged too.
        self.guarded = AuthMiddleware(self.http, chat_websocket)
        self.logged = AccessLog(self.guarded)
        self.open_requests = 0
        self.no_requests = asyncio.Event()
        self.no_requests.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            self.open_requests += 1
            self.no_requests.clear()
            try:
                await self.logged(scope, receive, send)
            finally:
                self.open_requests -= 1
                if not self.open_requests:
                    self.no_requests.set()
        elif kind == "lifespan":
            await self.lifespan(scope, receive, send)
        else:
            raise RuntimeError(f"unsupported ASGI scope type {kind!r}")

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        resources: Resources | None = None
        sampler: asyncio.Task[None] | None = None
        services = AsyncExitStack()  # what runs for the app's lifetime beside the resources
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    settings = self.settings or load_settings()
                    if not self.local:
                        check_site_settings(settings.auth)
                    resources = await startup(settings, local=self.local)
                    if not self.local:
                        await offer_setup_token(resources.pool)
                except Exception as exc:
                    if not isinstance(exc, AppError):  # its message says what to do
                        log.exception("startup failed")
                    # The server prints the message; re-raising ends the lifespan like Starlette.
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    raise
                # The server copies this state into every request's scope.
                scope["state"]["resources"] = resources
                mcp_service = scope["state"][mcp.STATE_KEY] = mcp.McpService()
                services.push_async_callback(mcp_service.aclose)
                tune_collector()
                sampler = start_sampler(resources.pool)
                await send({"type": "lifespan.startup.complete"})
                if self.on_ready is not None:
                    self.on_ready()
            elif message["type"] == "lifespan.shutdown":
                if sampler is not None:
                    sampler.cancel()
                # Requests the server cancelled (past its graceful timeout) clean up before
                # what they use is closed: an answer stores what it streamed, and its stream
                # log gets its last event.
                try:
                    await asyncio.wait_for(self.no_requests.wait(), CLEANUP_SECONDS)
                except TimeoutError:
                    log.warning("%d requests still running at shutdown", self.open_requests)
                await self.guarded.aclose()
                await services.aclose()
                if resources is not None:
                    await shutdown(resources)
                await send({"type": "lifespan.shutdown.complete"})
                return


application = Application()
