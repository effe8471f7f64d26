"""Questions answered as a Server-Sent Events stream, resumable from any worker.

POST /api/chat takes JSON; GET /api/chat?question=... is the same for `EventSource`. Event ids
are "<message id>:<n>": a client that reconnects with Last-Event-ID (EventSource does it by
itself) gets the events after n, replayed from the stream log and followed until the end.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from uuid import UUID

import anyio
from starlette.requests import Request
from starlette.routing import Route

from app.auth.access import principal_of, readable_scope, require_conversation
from app.auth.policy import policy
from app.errors import BadRequest, NotFound
from app.infra.admission import Ticket
from app.infra.sse import EventStream, encode
from app.rag import protocol
from app.rag.answer import Ask
from app.rag.protocol import parse_ask, parse_chat, parse_scope
from app.rag.retriever import Scope
from app.rag.stream_log import Recorder, replay, started
from app.resources import Resources
from app.routes.deps import read_json, resources_of

HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
# The last event of a stream whose worker is stopping: no id, so Last-Event-ID still names the
# last event received; EventSource reconnects after `retry` ms, and static/app.js does the same.
RECONNECT = b'retry: 100\nevent: reconnect\ndata: {"reason": "server_restart", "resume": true}\n\n'


@policy("reader", limit="asks", limit_unless="last-event-id")
async def chat(request: Request) -> EventStream:
    if request.headers.get("last-event-id"):
        return await _resume(request)
    # Everything that can be refused is checked before the stream starts, so it gets a 4xx.
    question, conversation_id, scope = parse_chat(await read_json(request))
    return await _start(request, question, conversation_id, scope)


@policy("reader", csrf="always", limit="asks", limit_unless="last-event-id")
async def chat_get(request: Request) -> EventStream:
    """The EventSource form: /api/chat?question=...&conversation_id=..."""
    if request.headers.get("last-event-id"):
        return await _resume(request)
    params = request.query_params
    question, conversation_id = parse_ask(dict(params))
    scope = parse_scope(params.get("collection"), params.getlist("document_id") or None)
    return await _start(request, question, conversation_id, scope)


async def _start(
    request: Request, question: str, conversation_id: UUID | None, scope: Scope
) -> EventStream:
    resources = resources_of(request)
    # Overloaded (503, Retry-After) when there is no place soon: before anything is stored.
    ticket = await resources.admission.enter()
    try:
        scope = await readable_scope(request, scope)
        user_id = principal_of(request).user_id
        ask = await resources.answerer.open(question, conversation_id, scope, user_id=user_id)
    except BaseException:
        ticket.release()
        raise
    return EventStream(
        _live(resources, ask, ticket),
        ping=protocol.PING_SECONDS,
        headers=HEADERS,
        handoff=RECONNECT,
        drain=True,
        on_close=ticket.release,
    )


async def _live(resources: Resources, ask: Ask, ticket: Ticket) -> AsyncIterator[bytes]:
    recorder = Recorder(resources.stream_writer, ask.message_id)
    stream_id = str(ask.message_id)
    seq = 0
    try:
        # aclosing: the answer stores what it streamed now, not when the generator is collected.
        async with aclosing(resources.answerer.stream(ask)) as events:
            async for name, data in events:
                if name != protocol.META:
                    ticket.release()  # retrieved (or failed): the next ask may start
                seq += 1
                text = json.dumps(data)  # once, for the client and the log
                recorder.add(seq, name, text)
                yield encode(name, text, f"{stream_id}:{seq}")
    finally:
        # Shielded: the client is gone and this task is being cancelled, but what was sent
        # must reach the log, ending in an error a resuming client can show.
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            if not recorder.finished:
                recorder.add(seq + 1, protocol.ERROR, json.dumps(protocol.INTERRUPTED))
            await recorder.close()


def _last_event_id(request: Request) -> tuple[UUID, int]:
    raw = request.headers["last-event-id"]
    stream, _, seq = raw.strip().rpartition(":")
    try:
        return UUID(stream), int(seq)
    except ValueError:
        raise BadRequest(
            f"Last-Event-ID {raw!r} is not an id this server sent: drop the header to ask anew",
            code="bad_last_event_id",
        ) from None


async def _resume(request: Request) -> EventStream:
    stream_id, seq = _last_event_id(request)
    resources = resources_of(request)
    store = resources.stream_writer.store
    if not await started(store, stream_id):
        raise NotFound(
            "that answer stream is no longer available (streams are kept for an hour); "
            "ask the question again",
            code="unknown_stream",
        )
    await require_conversation(request, (await store.after(stream_id, 0))[0][2]["conversation_id"])
    # Before the first token: retrieval and the LLM's first read. Between tokens: one read.
    between = resources.settings.llm_read_timeout + 5
    first = between + 25

    async def events() -> AsyncIterator[bytes]:
        key = str(stream_id)
        async for number, name, data in replay(store, stream_id, seq, first, between):
            if data is protocol.INTERRUPTED:  # its producer is gone: keep what it logged
                await resources.answerer.keep_logged(await store.after(stream_id, 0))
            yield encode(name, json.dumps(data), f"{key}:{number}")

    return EventStream(events(), ping=protocol.PING_SECONDS, headers=HEADERS, handoff=RECONNECT)


routes = [
    Route("/api/chat", chat, methods=["POST"]),
    Route("/api/chat", chat_get, methods=["GET"]),
]
