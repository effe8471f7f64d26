"""Questions answered as a Server-Sent Events stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.routing import Route

from app.rag.answer import Ask, open_ask, parse_ask, stream_answer
from app.resources import Resources
from app.routes.deps import read_json, resources_of

PING_SECONDS = 15


async def chat(request: Request) -> EventSourceResponse:
    # Everything that can be refused is checked before the stream starts, so it gets a 4xx.
    question, conversation_id = parse_ask(await read_json(request))
    resources = resources_of(request)
    ask = await open_ask(resources, question, conversation_id)
    return EventSourceResponse(_events(resources, ask), ping=PING_SECONDS)


async def _events(resources: Resources, ask: Ask) -> AsyncIterator[ServerSentEvent]:
    number = 0
    async for name, data in stream_answer(resources, ask):
        number += 1
        yield ServerSentEvent(json.dumps(data), event=name, id=str(number))


routes = [Route("/api/chat", chat, methods=["POST"])]
