"""/ws/chat: the answer protocol over WebSocket, our own handler beside the Starlette routes.

The client sends {"type": "ask", "question": ..., "conversation_id": optional} and
{"type": "cancel"}; the server sends the SSE events as objects with the event name in "type".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.errors import AppError
from app.rag.answer import open_ask, parse_ask, stream_answer
from app.resources import Resources

log = logging.getLogger(__name__)

PATH = "/ws/chat"
MAX_MESSAGE_BYTES = 64 * 1024


async def chat_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    if scope["path"] != PATH:
        await websocket.close(code=4404, reason=f"no WebSocket endpoint at {scope['path']}")
        return
    await websocket.accept()
    session = _Session(websocket, scope["state"]["resources"])
    with contextlib.suppress(WebSocketDisconnect):
        await session.receive_loop()
    await session.cancel()


class _Session:
    """One connection: questions run one at a time in a task the receiver can cancel."""

    def __init__(self, websocket: WebSocket, resources: Resources) -> None:
        self.websocket = websocket
        self.resources = resources
        self.current: asyncio.Task[None] | None = None

    async def send(self, name: str, data: dict[str, Any]) -> None:
        await self.websocket.send_text(json.dumps({"type": name, **data}))

    async def error(self, code: str, message: str) -> None:
        await self.send("error", {"code": code, "message": message})

    async def receive_loop(self) -> None:
        while True:
            text = await self.websocket.receive_text()
            if len(text.encode()) > MAX_MESSAGE_BYTES:
                await self.error(
                    "message_too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes"
                )
                continue
            try:
                message = json.loads(text)
            except json.JSONDecodeError as exc:
                await self.error("malformed_json", f"the message is not valid JSON ({exc})")
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "ask":
                await self.ask(message)
            elif kind == "cancel":
                await self.cancel()
            else:
                await self.error(
                    "unknown_type", 'send {"type": "ask", "question": "..."} or {"type": "cancel"}'
                )

    async def ask(self, message: dict[str, Any]) -> None:
        if self.current is not None and not self.current.done():
            await self.error(
                "busy", "a question is still being answered: wait for done, or cancel it"
            )
            return
        try:
            question, conversation_id = parse_ask(message)
            ask = await open_ask(self.resources, question, conversation_id)
        except AppError as exc:
            await self.error(exc.code, exc.message)
            return
        self.current = asyncio.create_task(self._answer(ask))

    async def _answer(self, ask: Any) -> None:
        try:
            async for name, data in stream_answer(self.resources, ask):
                await self.send(name, data)
        except WebSocketDisconnect:
            pass

    async def cancel(self) -> None:
        if self.current is not None and not self.current.done():
            self.current.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.current
            with contextlib.suppress(Exception):
                await self.error("cancelled", "the answer was cancelled")
