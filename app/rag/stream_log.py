"""Answer streams' events, written in batches to a stream log so a client can resume them
from any worker, and read back for that resume.

The store (Postgres, Redis or in-process) is chosen by URL in app/backends. Recording is best
effort: a store that fails slows nothing and breaks no live answer, only resume.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from uuid import UUID

from app.backends.stream_log import TERMINAL, Record, StreamLog, Written
from app.errors import AppError
from app.rag.protocol import ERROR, INTERRUPTED, TOKEN

log = logging.getLogger(__name__)

# Tokens are written in batches at most this old. A resume is rarely this quick (EventSource
# waits about 3 s before it reconnects), and each batch costs Redis a command per stream.
FLUSH_SECONDS = 1.0
POLL_SECONDS = 0.2  # how often a resumed stream looks for new events


class StreamWriter:
    """Writes what all the answer streams of a process record, one batch at a time.

    Group commit: a write carries every stream's events since the last one, so a process
    writes about 1 / FLUSH_SECONDS times a second however many streams it holds (a write per
    stream was 8,000 Redis round trips a second at 2,000 streams). Recording is best effort: a
    store that fails slows nothing and breaks no live answer, only resume.
    """

    def __init__(self, store: StreamLog) -> None:
        self.store = store
        self.pending: dict[UUID, list[Written]] = {}
        self.lost: set[UUID] = set()  # streams whose log a failed write left with a gap
        self.written: asyncio.Future[None] | None = None  # set once `pending` is written
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.warned_at = -60.0

    def add(self, stream_id: UUID, record: Written) -> None:
        """Write the event within FLUSH_SECONDS."""
        if stream_id in self.lost:
            return  # a log with a gap must not go on: event n must stay the n-th
        self.pending.setdefault(stream_id, []).append(record)
        if self.task is None and self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._start)

    async def flush(self, stream_id: UUID) -> bool:
        """Write everything added so far; False if this stream's log could not be kept."""
        if self.written is None:
            self.written = asyncio.get_running_loop().create_future()
        written = self.written
        self._start()
        await asyncio.shield(written)  # one stream cancelled must not cancel the write
        return stream_id not in self.lost

    def forget(self, stream_id: UUID) -> None:
        """The stream has ended: no need to remember that its log broke."""
        self.lost.discard(stream_id)

    def _start(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.task is None:
            self.task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        # Writes back to back while someone waits in flush(); tokens alone wait for the timer.
        while True:
            batch, self.pending = self.pending, {}
            written, self.written = self.written, None
            if batch:
                try:
                    await self.store.write(batch)
                except Exception as exc:  # Redis or Postgres away: the live answers go on
                    self.lost.update(batch)
                    if time.monotonic() - self.warned_at > 60:  # not one line per stream
                        self.warned_at = time.monotonic()
                        log.warning("%d streams can no longer be resumed: %s", len(batch), exc)
            if written is not None:
                written.set_result(None)
            if self.written is None:
                break
        self.task = None
        if self.pending:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._start)


class Recorder:
    """One stream's events into the log, within FLUSH_SECONDS: a live answer never waits for
    the log (a resume waits for it instead, see `started`)."""

    def __init__(self, writer: StreamWriter, stream_id: UUID) -> None:
        self.writer = writer
        self.stream_id = stream_id
        self.finished = False

    def add(self, seq: int, name: str, data_json: str) -> None:
        """Event `seq`, its data already encoded as JSON (as it was sent)."""
        self.writer.add(self.stream_id, (seq, name, data_json))
        self.finished = name in TERMINAL

    async def close(self) -> None:
        """Write what is left; the stream is over."""
        await self.writer.flush(self.stream_id)
        self.writer.forget(self.stream_id)


async def started(store: StreamLog, stream_id: UUID) -> bool:
    """Whether the stream is in the log, waiting as long as its first events may take."""
    deadline = time.monotonic() + FLUSH_SECONDS + 1
    while not await store.after(stream_id, 0):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True


async def replay(
    store: StreamLog, stream_id: UUID, seq: int, idle_seconds: float, token_idle_seconds: float
) -> AsyncIterator[Record]:
    """The events after `seq`, following the stream until it ends, or until it is quiet for
    longer than its producer could be (`token_idle_seconds` once tokens flow): then
    INTERRUPTED, the very object, so the caller can tell a lost producer apart."""
    quiet_since = time.monotonic()
    tokens = seq > 2  # meta and sources come first
    while True:
        try:
            events = await store.after(stream_id, seq)
        except AppError as exc:  # the stream has begun: an error event, not a broken stream
            yield (seq + 1, "error", {"code": exc.code, "message": exc.message})
            return
        for event in events:
            yield event
            seq = event[0]
            tokens = tokens or event[1] == TOKEN
            if event[1] in TERMINAL:
                return
        if events:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > (token_idle_seconds if tokens else idle_seconds):
            yield (seq + 1, ERROR, INTERRUPTED)
            return
        await asyncio.sleep(POLL_SECONDS)
