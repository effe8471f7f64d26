"""Postgres LISTEN for a process: one connection per channel, its notifications fanned out.

Every subscriber gets a bounded queue of payloads; a subscriber that falls behind by more than
the backlog misses payloads rather than holding memory. When the connection is lost every
queue receives CLOSED, and the next subscriber opens a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

BACKLOG = 256
CLOSED = None  # put in every queue when the LISTEN connection is lost


class Listener:
    """Subscribe to one channel; the LISTEN connection opens with the first subscriber."""

    def __init__(self, pool: asyncpg.Pool, channel: str, *, backlog: int = BACKLOG) -> None:
        self.channel = channel
        self.backlog = backlog
        self._pool = pool
        self._conn: Any = None  # a pool connection held for as long as anyone listens
        self._queues: set[asyncio.Queue[str | None]] = set()
        self._lock = asyncio.Lock()

    async def _listen(self) -> None:
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return
            conn = await self._pool.acquire()
            conn.add_termination_listener(self._on_lost)
            await conn.add_listener(self.channel, self._on_notify)
            self._conn = conn

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(payload)

    def _on_lost(self, _conn: Any) -> None:
        log.warning("the LISTEN connection for %s was lost", self.channel)
        self._conn = None
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(CLOSED)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[str | None]]:
        """A queue of payloads (CLOSED, None, when the stream cannot go on)."""
        await self._listen()
        queue: asyncio.Queue[str | None] = asyncio.Queue(self.backlog)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and not conn.is_closed():
                conn.remove_termination_listener(self._on_lost)
                await conn.remove_listener(self.channel, self._on_notify)
                await self._pool.release(conn)
