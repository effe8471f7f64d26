"""An httpx transport for the upstream LLM's streams: HTTP/1.1 parsed by httptools, in C.

httpx stays the client (its API, headers, timeouts and errors); this replaces httpcore and h11
under it. A model server sends one HTTP chunk per token, and h11 turned each into an event
passed up through seven generator layers: half of a worker's CPU at 2,000 streams (py-spy).
Here the C parser hands each chunk to a callback that appends it to a list, and a read takes
everything that arrived since the last one, so a busy worker reads many tokens at once.

Kept small on purpose: HTTP/1.1 over TCP or TLS, one request at a time per connection, idle
connections kept for reuse. No HTTP/2, no proxies (the provider keeps httpx's own transport
when the environment names one), no streamed request bodies (they are read whole: small JSON).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import httptools
import httpx

HIGH_WATER = 256 * 1024  # bytes read ahead of the reader before the socket is paused
Origin = tuple[str, str, int]


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: the parser's callbacks fill in the current response."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.gone = False  # the peer closed, or the connection failed or was closed
        self.error: Exception | None = None  # why the current response cannot be read
        self.waiter: asyncio.Future[None] | None = None  # a reader waiting for news
        self.drained: asyncio.Future[None] | None = None  # set while writing is paused
        self.timer: asyncio.TimerHandle | None = None  # the read timeout's
        self.deadline = 0.0
        self.timeout = 0.0
        self._begin()

    def _begin(self) -> None:
        self.busy = False  # between a request being sent and its response being read
        self.began = False
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.keep_alive = False
        self.framed = False  # Content-Length or chunked: the body's end is known
        self.complete = False
        self.body: list[bytes] = []
        self.size = 0

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.began = True
        if not self.busy or self.complete:  # bytes nobody asked for: do not trust the rest
            self._fail(httpx.RemoteProtocolError("The server sent a response to no request."))

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        lower = name.lower()
        if lower == b"content-length" or (lower == b"transfer-encoding" and b"chunked" in value):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # not known once the body is read
        self.head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.size += len(body)

    def on_message_complete(self) -> None:
        self.complete = True
        self.framed = True  # a 204 or 304 is complete without either header

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"The server sent malformed HTTP ({exc})."))
            return
        if self.size > HIGH_WATER and not self.complete:  # the reader is behind: TCP pushes back
            self.transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def eof_received(self) -> bool:
        self._lost(None)
        return False  # close our side too: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(exc)
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        self.drained = None

    # used by the transport

    def reusable(self) -> bool:
        return not self.gone and self.complete and self.keep_alive

    def silent(self) -> bool:
        """Whether the connection ended (closed or reset) with not a byte of the response."""
        return self.gone and not self.began

    async def send(self, data: bytes, timeout: float | None) -> None:
        self._begin()
        self.busy = True
        if self.gone:
            raise httpx.WriteError("The connection to the server is closed.")
        self.transport.write(data)  # type: ignore[union-attr]
        if self.drained is not None:  # the peer reads slower than we write
            try:
                await asyncio.wait_for(asyncio.shield(self.drained), timeout)
            except TimeoutError:
                raise httpx.WriteTimeout(f"The server read nothing for {timeout:g} s.") from None

    async def head(self, timeout: float | None) -> None:
        while not self.head_done:
            self._check()
            await self._wait_for_data(timeout)

    async def read(self, timeout: float | None) -> bytes:
        """What arrived of the body since the last read, b"" at its end."""
        while not self.body:
            if self.complete:
                return b""
            self._check()
            await self._wait_for_data(timeout)
        data = b"".join(self.body) if len(self.body) > 1 else self.body[0]
        self.body.clear()
        if self.size > HIGH_WATER and not self.gone:
            self.transport.resume_reading()  # type: ignore[union-attr]
        self.size = 0
        return data

    def close(self) -> None:
        self.gone = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.close()

    def _check(self) -> None:
        if self.error is not None:
            raise self.error
        if self.gone:
            raise httpx.RemoteProtocolError(
                "The server closed the connection before the response was complete."
                if self.head_done
                else "The server closed the connection without sending a response."
            )

    async def _wait_for_data(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        if timeout is not None:
            # One timer per connection that re-arms itself when it finds data came meanwhile,
            # not one per read: at 20 tokens a second, a read rarely waits long.
            self.deadline = loop.time() + timeout
            self.timeout = timeout
            if self.timer is None:
                self.timer = loop.call_at(self.deadline, self._expire)
        try:
            await self.waiter
        finally:
            self.waiter = None

    def _expire(self) -> None:
        self.timer = None
        if self.waiter is None or self.waiter.done():
            return  # not waiting now: the next wait arms a new timer
        loop = asyncio.get_running_loop()
        if loop.time() < self.deadline:
            self.timer = loop.call_at(self.deadline, self._expire)
        else:
            self.waiter.set_exception(
                httpx.ReadTimeout(f"No answer from the server within {self.timeout:g} s.")
            )

    def _lost(self, exc: Exception | None) -> None:
        self.gone = True
        if self.head_done and not self.complete and not self.framed:
            self.complete = True  # a body without a length ends where the connection does
        elif exc is not None and self.error is None:
            self.error = httpx.ReadError(str(exc) or type(exc).__name__)
        self._wake()

    def _fail(self, error: Exception) -> None:
        self.error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class _Body(httpx.AsyncByteStream):
    def __init__(self, pool: Http1Transport, conn: _Connection, timeout: float | None) -> None:
        self.pool = pool
        self.conn = conn
        self.timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while data := await self.conn.read(self.timeout):
            yield data

    async def aclose(self) -> None:
        self.pool._release(self.conn)


class Http1Transport(httpx.AsyncBaseTransport):
    def __init__(self, *, verify: ssl.SSLContext | bool = True, max_idle: int = 100) -> None:
        if isinstance(verify, ssl.SSLContext):
            self.ssl = verify
        else:
            self.ssl = httpx.create_ssl_context(verify=verify)
        self.max_idle = max_idle
        self.idle: dict[Origin, list[_Connection]] = {}
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Cannot send a request to a {url.scheme!r} URL.")
        timeouts = request.extensions.get("timeout", {})
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        message = _request_bytes(request, await request.aread())
        while True:
            conn = self._idle_connection(origin)
            reused = conn is not None
            conn = conn or await self._connect(origin, timeouts.get("connect"))
            try:
                await conn.send(message, timeouts.get("write"))
                await conn.head(timeouts.get("read"))
                break
            except httpx.TransportError:
                conn.close()
                # The server closed an idle connection as the request went out: it never saw
                # the request, so it is sent again on a new connection, as browsers do.
                if not (reused and conn.silent()):
                    raise
            except BaseException:
                conn.close()
                raise
        if request.method == "HEAD":  # the parser would wait for a body this response lacks
            conn.complete = True
            conn.close()  # and misread the next response: not reused
        return httpx.Response(
            conn.status,
            headers=conn.headers,
            stream=_Body(self, conn, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason.strip()},
        )

    async def aclose(self) -> None:
        self.closed = True
        for conns in self.idle.values():
            for conn in conns:
                conn.close()
        self.idle.clear()

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        conns = self.idle.get(origin)
        while conns:
            conn = conns.pop()  # the most recently used is the likeliest to be alive
            if not conn.gone:
                return conn
            conn.close()
        return None

    def _release(self, conn: _Connection) -> None:
        conns = self.idle.setdefault(conn.origin, [])
        if conn.reusable() and not self.closed and len(conns) < self.max_idle:
            conn.busy = False
            conns.append(conn)
        else:
            conn.close()

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = scheme == "https"
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(origin),
                    host,
                    port,
                    ssl=self.ssl if tls else None,
                    server_hostname=host if tls else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"Connecting to {host}:{port} timed out.") from None
        except OSError as exc:  # refused, unreachable, unknown host, a certificate not trusted
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return conn


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    if request.headers.get("transfer-encoding") == "chunked":
        body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    target = request.url.raw_path
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), target)]
    lines.extend(b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw)
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)
