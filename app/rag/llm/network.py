"""An httpcore network backend on asyncio's own transports, for the upstream LLM's streams.

httpx stays the client (its pool, proxies, TLS and timeouts); only the socket layer under it
changes. httpcore's default backend (anyio) opens a cancel scope for every read to apply the
read timeout: with thousands of answers streaming 20 tokens a second each, those scopes took
a sixth of a worker's CPU (py-spy). Here a read waits on one future that the protocol
resolves, and its timeout is a timer that fails that future.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

HIGH_WATER = 256 * 1024  # bytes read ahead of the reader before the socket is paused


class _Protocol(asyncio.Protocol):
    """Holds what arrived until the reader asks; wakes a waiting reader or writer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.closed = False  # end of stream, or the connection is gone
        self.error: Exception | None = None
        self.reader: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None  # set while writing is paused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > HIGH_WATER:  # the reader is behind: let TCP push back
            self.transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # close our side too: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        self.drained = None

    def take(self, max_bytes: int) -> bytes:
        data = self.chunks.popleft()
        while self.chunks and len(data) + len(self.chunks[0]) <= max_bytes:
            data += self.chunks.popleft()  # what piled up while the reader was busy, at once
        if len(data) > max_bytes:
            data, rest = data[:max_bytes], data[max_bytes:]
            self.chunks.appendleft(rest)
        was_paused = self.size > HIGH_WATER
        self.size -= len(data)
        if was_paused and self.size <= HIGH_WATER and not self.closed:
            self.transport.resume_reading()  # type: ignore[union-attr]
        return data

    def _wake(self) -> None:
        if self.reader is not None and not self.reader.done():
            self.reader.set_result(None)


def _expire(future: asyncio.Future[None], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


async def _wait(future: asyncio.Future[None], timeout: float | None, error: Exception) -> None:
    timer = None
    if timeout is not None:
        timer = asyncio.get_running_loop().call_later(timeout, _expire, future, error)
    try:
        await future
    finally:
        if timer is not None:
            timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self.transport = transport
        self.protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self.protocol
        if not protocol.chunks and not protocol.closed:
            protocol.reader = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.reader, timeout, httpcore.ReadTimeout("read timed out"))
            finally:
                protocol.reader = None
        if protocol.chunks:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""  # the peer closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self.protocol.closed:
            raise httpcore.WriteError("the connection is closed")
        self.transport.write(buffer)
        if self.protocol.drained is not None:  # the peer reads slower than we write
            await _wait(
                asyncio.shield(self.protocol.drained),
                timeout,
                httpcore.WriteTimeout("write timed out"),
            )

    async def aclose(self) -> None:
        self.transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self.transport, self.protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self.transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            self.transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        assert transport is not None
        self.protocol.transport = transport
        return AsyncioStream(transport, self.protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle pooled connection the server closed or wrote to
            return self.protocol.closed or bool(self.protocol.chunks)
        names = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }
        return self.transport.get_extra_info(names[info]) if info in names else None


SocketOptions = Iterable[tuple[int, int, Any]] | None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        return await self._connect(
            lambda loop, factory: loop.create_connection(factory, host, port, local_addr=local),
            timeout,
            socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.AsyncNetworkStream:
        return await self._connect(
            lambda loop, factory: loop.create_unix_connection(factory, path),
            timeout,
            socket_options,
        )

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    @staticmethod
    async def _connect(open_: Any, timeout: float | None, options: SocketOptions) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await open_(loop, _Protocol)
        except TimeoutError:
            raise httpcore.ConnectTimeout("connecting timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock: socket.socket = transport.get_extra_info("socket")
        for option in options or ():  # as httpcore's own backend does: after connecting
            sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)


def install(client: httpx.AsyncClient) -> None:
    """Give every connection pool of `client` (direct and through proxies) this backend.

    httpx has no public setting for it, so this sets the pools' attribute before any
    connection is made; tests/rag/test_network.py fails if httpx stops honouring it.
    """
    backend = AsyncioBackend()
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore.AsyncConnectionPool):
            pool._network_backend = backend
