"""Text that arrives while a stream's previous event is still on its way leaves as one event.

A busy worker would otherwise send one event per upstream token however far behind it is:
each event costs a socket write, the log record and the work of every layer in between, so
falling behind made it fall further. Read by their own task, the deltas pile up while the
answer's task waits its turn, and it sends them at once: an idle worker still sends every
token as it comes, a busy one sends fewer, larger events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


async def coalesced(deltas: AsyncIterator[str]) -> AsyncIterator[str]:
    """The text of `deltas`, joined as it piled up; their error after the text before it."""
    loop = asyncio.get_running_loop()
    parts: list[str] = []
    ended = False
    error: Exception | None = None
    waiter: asyncio.Future[None] | None = None

    def wake() -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read() -> None:
        nonlocal ended, error
        try:
            async for delta in deltas:
                parts.append(delta)
                wake()
        except Exception as exc:
            error = exc
        finally:
            ended = True
            wake()

    reader = asyncio.ensure_future(read())
    try:
        while True:
            if not parts and not ended:
                waiter = loop.create_future()
                await waiter
            if parts:
                text = "".join(parts)
                parts.clear()
                yield text
            elif error is not None:
                raise error
            else:
                return
    finally:
        # Cancelling the reader closes the upstream request (its `async with` exits).
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(reader)
