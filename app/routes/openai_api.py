"""An OpenAI-compatible API over the knowledge base: GET /v1/models, POST /v1/chat/completions.

Any OpenAI client can ask the documents; the answer's sources ride along in the response
(`sources` on the completion and on the first and last stream chunks), an extra field the
official clients keep.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.access import readable_scope
from app.errors import BadRequest, NotFound
from app.infra.sse import EventStream
from app.llm import Turn
from app.rag.answer import MAX_QUESTION_CHARS, Outcome, answer_events, error_event
from app.rag.retrieve import Scope
from app.resources import Resources
from app.routes.deps import read_json, resources_of

PING_SECONDS = 15
# Model name -> collection searched (None: every document). The hook for collections: when
# they exist, their names join this mapping as "rag/<collection>".
MODELS: dict[str, str | None] = {"rag": None}
MAX_BODY_BYTES = 1024 * 1024


async def list_models(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "rag-website"}
                for name in MODELS
            ],
        }
    )


def collection_for(model: Any) -> str | None:
    if not isinstance(model, str) or model not in MODELS:
        raise NotFound(
            f"there is no model {model!r}: use one of {', '.join(MODELS)} (GET /v1/models)",
            code="model_not_found",
        )
    return MODELS[model]


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    raise BadRequest("each message's content must be a string or a list of text parts")


def parse_request(body: Any) -> tuple[str, str, list[Turn], bool]:
    """(model, question, earlier turns, stream) from a chat-completions request body."""
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object such as {"model": "rag", "messages": [...]}')
    model = body.get("model")
    collection_for(model)
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
    if len(turns[-1].content) > MAX_QUESTION_CHARS:
        raise BadRequest(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    return model, turns[-1].content, turns[:-1], bool(body.get("stream", False))


async def chat_completions(request: Request) -> JSONResponse | EventStream:
    model, question, history, stream = parse_request(await read_json(request, limit=MAX_BODY_BYTES))
    resources = resources_of(request)
    scope = await readable_scope(request, Scope(collection_for(model)))
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if stream:
        return EventStream(
            _chunks(resources, completion_id, model, question, history, scope),
            ping=PING_SECONDS,
            headers={"Cache-Control": "no-store"},
        )
    outcome = Outcome()
    # Errors raise here, before any byte is sent: they become a JSON error with a status.
    async for _ in answer_events(resources, question, history, outcome, scope):
        pass
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": outcome.text},
                    "finish_reason": "stop",
                }
            ],
            "sources": outcome.sources,
            "unsupported_citations": outcome.unsupported,
        }
    )


async def _chunks(
    resources: Resources,
    completion_id: str,
    model: str,
    question: str,
    history: list[Turn],
    scope: Scope,
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

    outcome = Outcome()
    try:
        async with aclosing(answer_events(resources, question, history, outcome, scope)) as events:
            async for name, data in events:
                if name == "sources":
                    yield chunk({"role": "assistant", "content": ""}, sources=data["sources"])
                elif name == "token":
                    yield chunk({"content": data["text"]})
    except Exception as exc:
        _, error = error_event(exc)
        # OpenAI clients raise an APIError on a chunk that carries "error".
        yield ServerSentEvent(json.dumps({"error": {**error, "type": error["code"]}}))
        return
    yield chunk({}, "stop", sources=outcome.sources, unsupported_citations=outcome.unsupported)
    yield ServerSentEvent("[DONE]")


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
]
