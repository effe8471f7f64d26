"""Where answer streams' events are kept so an SSE client can resume: the stores.

Postgres (stream_events) and Redis (a list per stream, expiring) are shared by every worker;
the in-process twin (memory://) serves one process only, so a resume must reach the worker
that ran the answer. app/backends/__init__.py picks one by URL; app/rag/stream_log.py writes
to it in batches and replays from it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import redis.asyncio as redis

from app.db import stream_events as stream_sql
from app.errors import ServiceUnavailable

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600  # how long a finished stream can still be resumed
TERMINAL = ("done", "error")
SLICE = 200  # streams per Redis pipeline
UNAVAILABLE = (
    "the answer stream cannot be resumed right now (its log is unavailable); "
    "try again shortly, or ask the question again"
)

Record = tuple[int, str, Any]  # (seq, event name, data) as read back
# As written: the data as JSON text, encoded once for both the client and the log.
Written = tuple[int, str, str]
Batch = Mapping[UUID, Sequence[Written]]  # the new events of several streams


class StreamLog(Protocol):
    async def write(self, batch: Batch) -> None:
        """Append each stream's events (numbered from 1, in order, without gaps)."""
        ...

    async def after(self, stream_id: UUID, seq: int) -> list[Record]:
        """The stream's events after `seq`, data decoded; [] for a stream not (or no longer)
        kept."""
        ...

    async def aclose(self) -> None: ...


class RedisStreamLog:
    def __init__(self, client: redis.Redis, prefix: str = "rag:") -> None:
        self.client = client
        self.prefix = prefix

    def key(self, stream_id: UUID) -> str:
        return f"{self.prefix}answer:{stream_id}"

    async def write(self, batch: Batch) -> None:
        # In slices: a pipeline is encoded in one go, and 2,000 streams' worth at once would
        # stall every other stream of the worker for that long.
        items = list(batch.items())
        for start in range(0, len(items), SLICE):
            async with self.client.pipeline(transaction=False) as pipe:
                for stream_id, events in items[start : start + SLICE]:
                    key = self.key(stream_id)
                    # [seq, name, data]: what json.dumps of the three gives, without encoding
                    # the data again.
                    pipe.rpush(key, *(f'[{n}, "{name}", {data}]' for n, name, data in events))
                    # Set when a stream starts (so a worker that dies leaves no key behind)
                    # and when it ends, not with every batch of tokens in between.
                    if events[0][0] == 1 or events[-1][1] in TERMINAL:
                        pipe.expire(key, KEEP_SECONDS)
                await pipe.execute()

    async def after(self, stream_id: UUID, seq: int) -> list[Record]:
        # Events are pushed in order from seq 1, so event n sits at index n - 1.
        try:
            raw = await self.client.lrange(self.key(stream_id), seq, -1)
        except redis.RedisError as exc:  # a resume then answers 503, not a 500
            log.warning("the stream log in Redis cannot be read: %r", exc)
            raise ServiceUnavailable(UNAVAILABLE, code="stream_log_unavailable") from None
        return [tuple(json.loads(item)) for item in raw]  # type: ignore[misc]

    async def aclose(self) -> None:
        await self.client.aclose()


class PostgresStreamLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool  # the app's: closed with it, not here

    async def write(self, batch: Batch) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if any(events[0][0] == 1 for events in batch.values()):  # new streams
                await stream_sql.delete_older_than(conn, KEEP_SECONDS)  # forget expired ones
            await stream_sql.append(
                conn, [(i, *event) for i, events in batch.items() for event in events]
            )

    async def after(self, stream_id: UUID, seq: int) -> list[Record]:
        async with self.pool.acquire() as conn:
            rows = await stream_sql.after(conn, stream_id, seq)
        return [(r["seq"], r["event"], r["data"]) for r in rows]

    async def aclose(self) -> None:
        pass


class MemoryStreamLog:
    """In-process twin: streams kept in a dict for KEEP_SECONDS after their last event."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._streams: dict[UUID, tuple[float, list[Record]]] = {}  # last write, events

    async def write(self, batch: Batch) -> None:
        now = time.monotonic()
        if any(events[0][0] == 1 for events in batch.values()):  # new streams
            self._streams = {
                i: kept for i, kept in self._streams.items() if kept[0] > now - self.keep_seconds
            }
        for stream_id, events in batch.items():
            _, records = self._streams.get(stream_id, (now, []))
            records.extend((n, name, json.loads(data)) for n, name, data in events)
            self._streams[stream_id] = (now, records)

    async def after(self, stream_id: UUID, seq: int) -> list[Record]:
        written_at, records = self._streams.get(stream_id, (0.0, []))
        if written_at < time.monotonic() - self.keep_seconds:
            return []
        return records[seq:]  # event n sits at index n - 1

    async def aclose(self) -> None:
        self._streams.clear()
