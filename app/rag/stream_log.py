"""Where answer streams' events are kept so an SSE client can resume from any worker.

Redis (a list per stream, expiring) when REDIS_URL is set, Postgres (stream_events) otherwise:
both are shared by every worker, which an in-process store would not be. Recording is best
effort: a store that fails slows nothing and breaks no live answer, only resume.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import redis.asyncio as redis

from app.db import stream_events as stream_sql
from app.resources import Resources

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600  # how long a finished stream can still be resumed
FLUSH_SECONDS = 0.25  # tokens are written in batches at most this old
POLL_SECONDS = 0.2  # how often a resumed stream looks for new events
TERMINAL = ("done", "error")

Record = tuple[int, str, Any]  # (seq, event name, data)


class StreamLog(Protocol):
    async def append(self, stream_id: UUID, events: Sequence[Record]) -> None: ...

    async def after(self, stream_id: UUID, seq: int) -> list[Record]: ...


class RedisStreamLog:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @staticmethod
    def _key(stream_id: UUID) -> str:
        return f"rag:answer:{stream_id}"

    async def append(self, stream_id: UUID, events: Sequence[Record]) -> None:
        key = self._key(stream_id)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.rpush(key, *(json.dumps([seq, name, data]) for seq, name, data in events))
            pipe.expire(key, KEEP_SECONDS)
            await pipe.execute()

    async def after(self, stream_id: UUID, seq: int) -> list[Record]:
        # Events are pushed in order from seq 1, so event n sits at index n - 1.
        raw = await self.client.lrange(self._key(stream_id), seq, -1)
        return [tuple(json.loads(item)) for item in raw]  # type: ignore[misc]


class PostgresStreamLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def append(self, stream_id: UUID, events: Sequence[Record]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if events[0][0] == 1:  # a new stream: forget the expired ones
                await stream_sql.delete_older_than(conn, KEEP_SECONDS)
            await stream_sql.append(conn, stream_id, events)

    async def after(self, stream_id: UUID, seq: int) -> list[Record]:
        async with self.pool.acquire() as conn:
            rows = await stream_sql.after(conn, stream_id, seq)
        return [(r["seq"], r["event"], r["data"]) for r in rows]


def stream_log(resources: Resources) -> StreamLog:
    if resources.redis is not None:
        return RedisStreamLog(resources.redis)
    return PostgresStreamLog(resources.pool)


class Recorder:
    """Writes one stream's events to the log: tokens in batches, the rest at once."""

    def __init__(self, store: StreamLog, stream_id: UUID) -> None:
        self.store = store
        self.stream_id = stream_id
        self.pending: list[Record] = []
        self.flushed_at = time.monotonic()
        self.failed = False
        self.finished = False

    async def add(self, seq: int, name: str, data: Any) -> None:
        self.pending.append((seq, name, data))
        self.finished = name in TERMINAL
        if name != "token" or time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            await self.flush()

    async def flush(self) -> None:
        if not self.pending or self.failed:
            return
        events, self.pending = self.pending, []
        self.flushed_at = time.monotonic()
        try:
            await self.store.append(self.stream_id, events)
        except Exception as exc:  # Redis or Postgres away: the live answer goes on
            self.failed = True
            log.warning("stream %s can no longer be resumed: %s", self.stream_id, exc)


async def replay(
    store: StreamLog, stream_id: UUID, seq: int, idle_seconds: float
) -> AsyncIterator[Record]:
    """The events after `seq`, following the stream until it ends (or stays idle too long)."""
    quiet_since = time.monotonic()
    while True:
        events = await store.after(stream_id, seq)
        for event in events:
            yield event
            seq = event[0]
            if event[1] in TERMINAL:
                return
        if events:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > idle_seconds:
            yield (
                seq + 1,
                "error",
                {
                    "code": "stream_lost",
                    "message": "The answer stopped arriving (its server may have restarted); "
                    "ask the question again.",
                },
            )
            return
        await asyncio.sleep(POLL_SECONDS)
