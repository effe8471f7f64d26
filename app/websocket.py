"""/ws/chat: the answer protocol over WebSocket, our own handler beside the Starlette routes.

The client sends {"type": "ask", "question": ..., "conversation_id": optional} and
{"type": "cancel"}; the server sends the SSE events as objects with the event name in "type",
and {"type": "ping"} when idle so proxies keep the connection open. The receiver, the sender
and the answer run in one task group: whichever side ends first (a disconnect, a failed send)
cancels the rest, which closes an upstream LLM request at once.
"""

from __future__ import annotations

import json
import logging
from contextlib import aclosing
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.auth.access import principal_of, readable_scope
from app.auth.policy import Policy, policy
from app.db import unavailable
from app.errors import AppError
from app.infra import metrics
from app.infra.admission import Ticket
from app.rag import protocol
from app.rag.answer import Ask
from app.rag.protocol import ERROR, parse_chat
from app.resources import Resources
from app.text import json_input

log = logging.getLogger(__name__)

PATH = "/ws/chat"
MAX_MESSAGE_BYTES = 64 * 1024
OUTBOX_SIZE = 64  # events waiting for a slow client before the answer waits too


# Every message type a client may send, with its policy (app/auth/policy.py) and its handler:
# a type missing here is refused, and its policy is checked on the parsed message.
MESSAGES: dict[str, tuple[Policy, str]] = {
    "ask": (Policy("reader", limit="asks"), "ask"),
    "cancel": (Policy("reader"), "cancel"),
    "pong": (Policy("reader"), "pong"),
}


@policy("reader")
async def chat_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    if scope["path"] != PATH:
        await websocket.close(code=4404, reason=f"no WebSocket endpoint at {scope['path']}")
        return
    await websocket.accept()
    session = _Session(websocket, scope["state"]["resources"])
    await session.run()


class _Session:
    """One connection: questions are answered one at a time; cancel stops the current one."""

    def __init__(self, websocket: WebSocket, resources: Resources) -> None:
        self.websocket = websocket
        self.resources = resources
        self.ping_seconds = protocol.PING_SECONDS
        self.outbox: MemoryObjectSendStream[dict[str, Any]]
        self.current: anyio.CancelScope | None = None
        self.ticket: Ticket | None = None  # the current ask's place while it starts

    async def run(self) -> None:
        outbox, inbox = anyio.create_memory_object_stream[dict[str, Any]](OUTBOX_SIZE)
        self.outbox = outbox
        try:
            async with outbox, inbox, anyio.create_task_group() as group:
                group.start_soon(self._until_done, self._sender(inbox), group)
                group.start_soon(self._until_done, self._receiver(group), group)
        finally:
            if self.ticket is not None:  # an answer cancelled before it began to run
                self.ticket.release()

    async def _until_done(self, work: Any, group: TaskGroup) -> None:
        try:
            await work
        except WebSocketDisconnect:
            pass
        finally:
            group.cancel_scope.cancel()

    async def _sender(self, inbox: MemoryObjectReceiveStream[dict[str, Any]]) -> None:
        while True:
            with anyio.move_on_after(self.ping_seconds) as idle:
                message = await inbox.receive()
            if idle.cancelled_caught:
                message = {"type": "ping"}
            await self.websocket.send_text(json.dumps(message))

    async def send(self, name: str, data: dict[str, Any]) -> None:
        await self.outbox.send({"type": name, **data})

    async def error(self, code: str, message: str, **extra: Any) -> None:
        await self.send(ERROR, {"code": code, "message": message, **extra})

    async def _receiver(self, group: TaskGroup) -> None:
        while True:
            event = await self.websocket.receive()
            if event["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(event.get("code", 1000), event.get("reason"))
            text = event.get("text")
            if text is None:  # a binary frame: Starlette's receive_text would close with 1011
                await self.error("binary_frame", "send messages as JSON text frames")
                continue
            if len(text.encode()) > MAX_MESSAGE_BYTES:
                await self.error(
                    "message_too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes"
                )
                continue
            try:
                message = json_input.loads(text, "the message")
            except AppError as exc:
                await self.error(exc.code, exc.message)
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            entry = MESSAGES.get(kind) if isinstance(kind, str) else None
            if entry is None:
                await self.error(
                    "unknown_type", 'send {"type": "ask", "question": "..."} or {"type": "cancel"}'
                )
                continue
            declared, handler = entry
            refusal = await self.websocket.scope["state"]["admit"](declared)
            if refusal is not None:
                await self.send(ERROR, refusal)
                continue
            await getattr(self, handler)(message, group)

    async def pong(self, message: dict[str, Any], group: TaskGroup) -> None:
        """The client's answer to a ping: nothing to do."""

    async def ask(self, message: dict[str, Any], group: TaskGroup) -> None:
        if self.current is not None:
            await self.error(
                "busy", "a question is still being answered: wait for done, or cancel it"
            )
            return
        ticket = None
        try:
            question, conversation_id, scope = parse_chat(message)
            # Overloaded (an error event with retry_after) when there is no place soon:
            # before anything is stored.
            ticket = await self.resources.admission.enter()
            scope = await readable_scope(self.websocket, scope)
            user_id = principal_of(self.websocket).user_id
            ask = await self.resources.answerer.open(
                question, conversation_id, scope, user_id=user_id
            )
        except AppError as exc:
            if ticket is not None:
                ticket.release()
            await self.send(ERROR, protocol.error_data(exc))
            return
        except BaseException as exc:
            if ticket is not None:
                ticket.release()
            if not isinstance(exc, Exception) or not unavailable.is_unavailable(exc):
                raise
            log.warning("database unavailable on %s: %r", PATH, exc)
            metrics.DB_UNAVAILABLE.inc()
            await self.error("database_unavailable", unavailable.MESSAGE)
            return
        self.current = anyio.CancelScope()
        self.ticket = ticket
        group.start_soon(self._answer, ask, self.current, ticket)

    async def _answer(self, ask: Ask, scope: anyio.CancelScope, ticket: Ticket) -> None:
        try:
            with scope:
                # aclosing: a cancelled answer stores what it streamed before this returns.
                async with aclosing(self.resources.answerer.stream(ask)) as events:
                    async for name, data in events:
                        if name != protocol.META:
                            ticket.release()  # retrieved (or failed): the next may start
                        await self.send(name, data)
        finally:
            ticket.release()
            if self.current is scope:  # a cancelled answer must not clear its successor
                self.current = None

    async def cancel(self, message: dict[str, Any] | None = None, group: Any = None) -> None:
        if self.current is not None:
            self.current.cancel()
            self.current = None
            await self.error("cancelled", "the answer was cancelled")
