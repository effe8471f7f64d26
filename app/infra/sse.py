"""sse-starlette's response, made cheap enough per stream for thousands of answer streams."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import ensure_bytes
from starlette.types import Message, Receive, Scope, Send

# Per thread: its event loop, a future done once sse-starlette sees the server shut down,
# and the task that waits for that.
_watch = threading.local()


class EventStream(EventSourceResponse):
    """An `EventSourceResponse` with sse-starlette's behaviour at a fraction of its cost.

    sse-starlette runs each stream as an anyio task group of four tasks (events, pings, client
    disconnect, server shutdown) and opens a cancel scope around every send. At 2,000 streams
    that was a fifth of the worker's CPU (py-spy) and about 11 KB per stream (tracemalloc).
    Here one task sends the events and one waits for the client to leave; pings come from a
    timer that fires once per interval and sends only if the stream was quiet that long; one
    watcher per process, sse-starlette's own, ends every stream when the server shuts down.
    Other uses (a send timeout, a data sender, a shutdown event, HEAD) go to sse-starlette.

    `on_close` is called once the response is over, however it ended.

    `handoff`: when the server stops (a restart, or a worker recycled by max_requests), send
    these bytes as the last event and end the response, instead of cutting the stream; with
    `drain`, the events go on being produced (nowhere but into the generator's own record)
    until the generator ends or the server's graceful timeout runs out, so a client that
    resumes elsewhere with Last-Event-ID gets the rest.
    """

    def __init__(
        self,
        *args: Any,
        handoff: bytes | None = None,
        drain: bool = False,
        on_close: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.handoff = handoff
        self.drain = drain
        self.on_close = on_close
        self._detached = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._respond(scope, receive, send)
        finally:
            # Also when the generator never started (a client gone at once): its own
            # `finally` would not run.
            if self.on_close is not None:
                self.on_close()

    async def _respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] == "HEAD"
            or self.send_timeout is not None
            or self.data_sender_callable is not None
            or self._shutdown_event is not None
        ):
            return await super().__call__(scope, receive, send)
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._sent_at = loop.time()
        self._timer: asyncio.TimerHandle | None = None
        if self.ping_interval > 0:
            self._timer = loop.call_at(self._sent_at + self.ping_interval, self._ping_due, send)
        out = send if self.handoff is None else self._unless_detached(send)
        streaming = loop.create_task(self._stream_response(out))
        listening = loop.create_task(self._listen_for_disconnect(receive))
        stopping = _shutdown(loop)
        try:
            await asyncio.wait(
                (streaming, listening, stopping), return_when=asyncio.FIRST_COMPLETED
            )
            if self.handoff is not None and stopping.done() and not streaming.done():
                await self._hand_off(send)
                listening.cancel()
                if self.drain:
                    await asyncio.wait((streaming,))
        finally:
            self.active = False
            if self._timer is not None:
                self._timer.cancel()
            streaming.cancel()
            listening.cancel()
            await asyncio.gather(streaming, listening, return_exceptions=True)
        if not streaming.cancelled() and streaming.exception() is not None:
            raise streaming.exception()  # type: ignore[misc]
        if self.background is not None:
            await self.background()

    def _unless_detached(self, send: Send) -> Send:
        async def guarded(message: Message) -> None:
            if not self._detached:
                await send(message)

        return guarded

    async def _hand_off(self, send: Send) -> None:
        async with self._send_lock:
            self._detached = True  # from now on the generator's events go nowhere
            assert self.handoff is not None
            await send({"type": "http.response.body", "body": self.handoff, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        if self.send_timeout is None:
            self._sent_at = self._loop.time()
            await send(message)
        else:
            await super()._send_with_timeout(send, message)

    def _ping_due(self, send: Send) -> None:
        if not self.active:
            return
        now = self._loop.time()
        due = self._sent_at + self.ping_interval
        if now >= due:  # quiet for a whole interval: a proxy may be about to give up on it
            self._pinging = self._loop.create_task(self._send_ping(send))  # held: not collected
            due = now + self.ping_interval
        self._timer = self._loop.call_at(due, self._ping_due, send)

    async def _send_ping(self, send: Send) -> None:
        event = (
            self.ping_message_factory()
            if self.ping_message_factory
            else ServerSentEvent(comment=f"ping - {datetime.now(UTC)}", sep=self.sep)
        )
        body = ensure_bytes(event, self.sep)
        async with self._send_lock:
            if self.active and not self._detached:
                message = {"type": "http.response.body", "body": body, "more_body": True}
                await self._send_with_timeout(send, message)


def _shutdown(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """Done when the server shuts down; shared by the loop's streams (one watcher, not one
    task and event per stream)."""
    if getattr(_watch, "loop", None) is not loop:  # a thread runs one loop at a time
        future: asyncio.Future[None] = loop.create_future()

        async def watch() -> None:
            await EventSourceResponse._listen_for_exit_signal()
            future.set_result(None)

        _watch.loop, _watch.future, _watch.task = loop, future, loop.create_task(watch())
    return _watch.future


def encode(name: str | None, data: str, event_id: str | None = None) -> bytes:
    """One event, for `data` without line breaks (JSON text never has them)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    if name is not None:
        head += f"event: {name}\n"
    return f"{head}data: {data}\n\n".encode()
