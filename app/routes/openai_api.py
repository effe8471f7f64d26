"""An OpenAI-compatible API over the knowledge base: GET /v1/models, POST /v1/chat/completions.

Any OpenAI client can ask the documents. The model name picks what is searched: `rag` every
document, `rag:<collection>` one collection. The answer's sources ride along in the response
(`sources` on the completion and on the first and last stream chunks), an extra field the
official clients keep. The client holds the conversation (it sends the earlier turns), so
nothing is stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.access import readable_ids, readable_scope
from app.auth.policy import policy
from app.db import assistants as assistant_sql
from app.errors import BadRequest, NotFound
from app.infra.admission import Ticket
from app.infra.sse import EventStream
from app.llm import Turn
from app.rag import protocol
from app.rag.answer import Answerer, Ask
from app.rag.protocol import DONE, ERROR, SOURCES, TOKEN, check_question, parse_model
from app.rag.retriever import Scope
from app.routes.deps import read_json, resources_of

MAX_BODY_BYTES = 1024 * 1024
MAX_HISTORY_TURNS = 20
MAX_HISTORY_CHARS = 20_000


@policy("reader")
async def list_models(request: Request) -> JSONResponse:
    """`rag` and `rag:<collection>` for each readable collection; `answer_model` says which
    model writes its answers (a collection's assistant may choose one; else the site's)."""
    readable = await readable_ids(request)
    resources = resources_of(request)
    names = protocol.model_names(await resources.answerer.collections(readable))
    chosen: dict[str, str] = {}
    site = resources.llm.name  # extractive: no model writes the answers, none can be chosen
    if resources.llm.name == "openai":
        site = resources.settings.llm_model
        async with resources.pool.acquire() as conn:
            chosen = await assistant_sql.models(conn, readable)
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {
                    "id": name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "rag-website",
                    "answer_model": chosen.get(name[len(protocol.MODEL_PREFIX) :], site)
                    if name != protocol.MODEL
                    else site,
                }
                for name in names
            ],
        }
    )


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    raise BadRequest("each message's content must be a string or a list of text parts")


def parse_request(body: Any) -> tuple[str, Scope, str, list[Turn], bool]:
    """(model, the scope it selects, question, earlier turns, stream) from a request body."""
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object such as {"model": "rag", "messages": [...]}')
    model = body.get("model")
    scope = parse_model(model)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list of {role, content} objects")
    turns: list[Turn] = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest("each message must be an object with a role and a content")
        if message["role"] in ("user", "assistant"):
            turns.append(Turn(message["role"], _text(message.get("content")).strip()))
    if not turns or turns[-1].role != "user" or not turns[-1].content:
        raise BadRequest("the last message must be a user message with the question")
    question = check_question(turns[-1].content)
    return model, scope, question, _bounded(turns[:-1]), bool(body.get("stream", False))


def _bounded(history: list[Turn]) -> list[Turn]:
    """The latest turns only: at most MAX_HISTORY_TURNS and MAX_HISTORY_CHARS of text, so a
    client resending a long chat cannot make every request rewrite all of it."""
    kept: list[Turn] = []
    total = 0
    for turn in reversed(history[-MAX_HISTORY_TURNS:]):
        total += len(turn.content)
        if total > MAX_HISTORY_CHARS:
            break
        kept.append(turn)
    return kept[::-1]


@policy("reader", limit="asks")
async def chat_completions(request: Request) -> JSONResponse | EventStream:
    body = await read_json(request, limit=MAX_BODY_BYTES)
    model, scope, question, history, stream = parse_request(body)
    resources = resources_of(request)
    answerer = resources.answerer
    # Overloaded (503, Retry-After) when there is no place soon: before any work.
    ticket = await resources.admission.enter()
    try:
        scope = await readable_scope(request, scope)
        ask = await answerer.open_unstored(question, history, scope)
    except BaseException as exc:
        ticket.release()
        if isinstance(exc, NotFound) and exc.code == "unknown_collection":
            raise protocol.unknown_model(model) from None  # rag:<a collection that is not>
        raise
    completion_id = f"chatcmpl-{ask.message_id.hex}"
    if stream:
        return EventStream(
            _chunks(answerer, ask, completion_id, model, ticket),
            ping=protocol.PING_SECONDS,
            headers={"Cache-Control": "no-store"},
            on_close=ticket.release,
        )
    # Errors raise here, before any byte is sent: they become a JSON error with a status.
    try:
        answer = await answerer.complete(ask, retrieved=ticket.release)
    finally:
        ticket.release()
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": "stop",
                }
            ],
            "sources": answer.sources,
            "unsupported_citations": answer.unsupported_citations,
            "answered": answer.answered,  # false: the documents did not answer it
        }
    )


async def _chunks(
    answerer: Answerer, ask: Ask, completion_id: str, model: str, ticket: Ticket
) -> AsyncIterator[ServerSentEvent]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> ServerSentEvent:
        data = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return ServerSentEvent(json.dumps(data))

    sources: list[dict[str, Any]] = []
    async for name, data in answerer.stream(ask):
        if name != protocol.META:
            ticket.release()  # retrieved (or failed): the next ask may start
        if name == TOKEN:
            yield chunk({"content": data["text"]})
        elif name == SOURCES:
            sources = data["sources"]
            yield chunk({"role": "assistant", "content": ""}, sources=sources)
        elif name == DONE:
            unsupported = data["unsupported_citations"]
            yield chunk(
                {}, "stop", sources=sources, unsupported_citations=unsupported,
                answered=data["answered"],
            )  # fmt: skip
            yield ServerSentEvent("[DONE]")
        elif name == ERROR:
            # OpenAI clients raise an APIError on a chunk that carries "error".
            yield ServerSentEvent(json.dumps({"error": {**data, "type": data["code"]}}))


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
]
