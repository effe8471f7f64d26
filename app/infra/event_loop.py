"""uvloop, except that a server accepts every waiting connection when its socket is ready.

libuv (since 1.45) accepts one connection per turn of the event loop. A worker streaming
answers is busy: at 1,300 open streams a turn took about 40 ms, so it accepted 25 connections
a second while a thousand waited in the listen queue, and a new question waited there for
seconds before the app saw it (bench/stream.py, with `ss -ltn` showing the queue). asyncio's
own loop accepts up to a hundred per turn; so does this one, and hands each to uvloop.

uvicorn takes it as `--loop app.infra.event_loop:new_event_loop`; gunicorn through `Worker`.
Where uvloop cannot be imported (a platform without a wheel), the standard asyncio loop serves
instead, and says so once in the log.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import sys
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from app.infra.http_limits import MAX_FIELD_BYTES, MAX_HEADERS, limited

try:
    import uvloop
except ImportError as exc:  # the app still runs, on asyncio's own loop
    uvloop = None
    _UVLOOP_MISSING = str(exc)

log = logging.getLogger(__name__)

BATCH = 100  # connections accepted per turn at most, as asyncio does
RETRY_SECONDS = 1.0  # after running out of file descriptors or memory
OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
# What a stopping server leaves its cancelled requests to clean up in (app/asgi.py waits that
# long at most); gunicorn's worker cancels them this much before gunicorn's own deadline.
CLEANUP_SECONDS = 10.0
# How long a stopping server, no longer accepting, lets connections it has just accepted send
# their request before it closes those that have none under way.
IN_FLIGHT_SECONDS = 1.0


class _PatchedCreateServer:
    async def create_server(  # type: ignore[override]
        self, protocol_factory: Any, host: Any = None, port: Any = None, **options: Any
    ) -> Any:
        serving = options.pop("start_serving", True)
        # uvloop binds (and owns) the sockets but never listens; the copies here do.
        server = await super().create_server(
            protocol_factory, host, port, start_serving=False, **options
        )
        if not serving:
            return server
        return _Server(self, server, protocol_factory, options.get("ssl"), options.get("backlog"))


class _Server:
    """uvloop's server, with accepting done here; everything else is passed through."""

    def __init__(
        self, loop: Loop, server: Any, factory: Any, tls: Any, backlog: int | None
    ) -> None:
        self._loop = loop
        self._server = server
        self._factory = factory
        self._tls = tls
        self._listeners = []
        for pseudo in server.sockets:
            listener = socket.socket(fileno=os.dup(pseudo.fileno()))
            listener.setblocking(False)
            listener.listen(backlog or 100)
            loop.add_reader(listener.fileno(), self._accept, listener)
            self._listeners.append(listener)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def is_serving(self) -> bool:
        return bool(self._listeners)

    def close(self) -> None:
        for listener in self._listeners:
            self._loop.remove_reader(listener.fileno())
            listener.close()
        self._listeners.clear()
        self._server.close()

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(BATCH):
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return  # none left
            except ConnectionAbortedError:
                continue  # the client gave up while it waited
            except OSError as exc:
                if exc.errno not in OUT_OF_RESOURCES:
                    raise
                # Stop listening for a moment rather than spin on a queue it cannot take.
                log.error("cannot accept connections (%s); retrying in %g s", exc, RETRY_SECONDS)
                self._loop.remove_reader(listener.fileno())
                self._loop.call_later(RETRY_SECONDS, self._resume, listener)
                return
            conn.setblocking(False)
            self._loop.create_task(self._open(conn))

    def _resume(self, listener: socket.socket) -> None:
        if listener in self._listeners:
            self._loop.add_reader(listener.fileno(), self._accept, listener)

    async def _open(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn, ssl=self._tls)
        except (OSError, asyncio.CancelledError) as exc:  # the client left, or TLS failed
            log.debug("an accepted connection failed: %s", exc)
            conn.close()


if uvloop is not None:

    class Loop(_PatchedCreateServer, uvloop.Loop):  # type: ignore[misc]
        pass


_said_fallback = False


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop with the accept patch; the standard loop where uvloop is not installed."""
    if uvloop is not None:
        return Loop()
    global _said_fallback
    if not _said_fallback:
        _said_fallback = True
        log.warning("uvloop is not available (%s): using the asyncio loop", _UVLOOP_MISSING)
    return asyncio.new_event_loop()


class _RecyclingServer(Server):
    """uvicorn's server; a worker that reached max_requests says it is exiting (should_exit) as
    a SIGTERM would, so its answer streams hand over to another worker (app/infra/sse.py)."""

    async def on_tick(self, counter: int) -> bool:
        exiting = await super().on_tick(counter)
        if exiting:
            self.should_exit = True
        return exiting

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown closes at once every connection with no request under way.
        Behind Nginx (a new connection per request) such a connection, accepted a moment ago,
        is a request in flight: closing it was a 502 for a question asked while the worker
        recycled. So stop accepting first, and let those requests arrive (the other workers
        take the new connections meanwhile)."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        await asyncio.sleep(IN_FLIGHT_SECONDS)
        await super().shutdown()


# The largest WebSocket frame uvicorn reads (its default is 16 MiB); our handler refuses
# messages over 64 KiB anyway, and a larger frame closes the connection with 1009.
WS_MAX_BYTES = 1024 * 1024


class Worker(UvicornWorker):
    """gunicorn's worker class for the web process: uvicorn on this loop, with httptools.

    gunicorn's settings map to uvicorn's: worker_connections caps open connections and tasks
    (more get a 503 at once rather than a slow queue), graceful_timeout bounds how long a
    stopping worker lets its answers finish (less a few seconds to store what it cuts). The
    access log is ours (app/infra/access.py).
    """

    CONFIG_KWARGS = {
        "loop": "app.infra.event_loop:new_event_loop",
        "http": "app.infra.http_limits:LimitedHttpToolsProtocol",
        "access_log": False,
        "ws_max_size": WS_MAX_BYTES,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.limit_concurrency = self.cfg.worker_connections
        # gunicorn's header bounds (gunicorn.conf.py), which its uvicorn workers would ignore.
        fields, field_size = self.cfg.limit_request_fields, self.cfg.limit_request_field_size
        self.config.http = limited(fields or MAX_HEADERS, field_size or MAX_FIELD_BYTES)
        # gunicorn kills a worker still running at graceful_timeout: the answers it cancels
        # need a moment before that to store what they streamed.
        graceful = self.cfg.graceful_timeout
        self.config.timeout_graceful_shutdown = graceful - min(CLEANUP_SECONDS, graceful / 2)

    async def _serve(self) -> None:
        # UvicornWorker._serve with our server class.
        self.config.app = self.wsgi
        server = _RecyclingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
