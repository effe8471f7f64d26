"""A TCP server for tests that leaves no socket behind.

asyncio's `Server.close()` stops listening but leaves accepted connections open, and
`StreamWriter.close()` only schedules the socket's close on the loop. A test whose loop ends
first leaves a socket that is garbage-collected, with an unraisable warning, in some later,
innocent test. `tcp_server` tracks every connection and closes it, and waits, before exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def tcp_server(handler: Handler, **options: Any) -> AsyncIterator[asyncio.Server]:
    """Serve `handler` on 127.0.0.1 (a free port); on exit every connection is closed."""
    writers: list[asyncio.StreamWriter] = []
    handlers: set[asyncio.Task[Any]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)
        finally:
            handlers.discard(task)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0, **options)
    try:
        yield server
    finally:
        server.close()
        await asyncio.sleep(0.05)  # connections accepted but not yet handed to `tracked`
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for writer in writers:
            writer.transport.abort()  # now, whatever its buffer still holds
        for writer in writers:
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        await server.wait_closed()


def port_of(server: asyncio.Server) -> int:
    return server.sockets[0].getsockname()[1]
