"""Document events for SSE: one LISTEN connection per process, fanned out to subscribers.

The worker (in any process, on any machine) sends NOTIFY document_events; every web
process listens once and hands each payload to its open event streams, so a browser sees
progress whichever gunicorn worker it is connected to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from app.db.documents import EVENTS_CHANNEL

log = logging.getLogger(__name__)

# Events a slow client may fall behind by before it misses some (it can GET the documents).
BACKLOG = 256
CLOSED = None  # put in every queue when the LISTEN connection is lost


class DocumentEvents:
    """Subscribe to document events; the LISTEN connection opens with the first subscriber."""

    def __init__(self, pool: asyncpg.Pool) -> None:
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
            await conn.add_listener(EVENTS_CHANNEL, self._on_notify)
            self._conn = conn

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(payload)

    def _on_lost(self, _conn: Any) -> None:
        log.warning("the LISTEN connection for document events was lost")
        self._conn = None
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(CLOSED)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[str | None]]:
        """A queue of JSON payloads (None when the stream cannot go on)."""
        await self._listen()
        queue: asyncio.Queue[str | None] = asyncio.Queue(BACKLOG)
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
                await conn.remove_listener(EVENTS_CHANNEL, self._on_notify)
                await self._pool.release(conn)
