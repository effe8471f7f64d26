"""One answer as a sequence of protocol events (meta, sources, token..., done | error).

SSE and WebSocket both send what `stream_answer` yields, so the two transports cannot drift.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.db import conversations as conversation_sql
from app.errors import BadRequest, NotFound
from app.rag import extractive
from app.rag.retrieve import search
from app.resources import Resources

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
TOP_K = 5
NO_DOCUMENTS = "There are no searchable documents yet: upload one and ask again."

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Ask:
    question: str
    conversation_id: UUID
    message_id: UUID


def parse_ask(data: Any) -> tuple[str, UUID | None]:
    """Validate a question request: {"question": str, "conversation_id": optional id}."""
    if not isinstance(data, dict):
        raise BadRequest('send a JSON object such as {"question": "What is ...?"}')
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise BadRequest("the question is empty: type a question", code="empty_question")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadRequest(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    raw_id = data.get("conversation_id")
    if raw_id is None:
        return question.strip(), None
    try:
        return question.strip(), UUID(str(raw_id))
    except ValueError:
        raise NotFound(
            f"there is no conversation {raw_id!r}", code="unknown_conversation"
        ) from None


async def open_ask(resources: Resources, question: str, conversation_id: UUID | None) -> Ask:
    """Store the question (in a new conversation unless one is given); NotFound if unknown."""
    async with resources.pool.acquire() as conn, conn.transaction():
        if conversation_id is None:
            conversation_id = await conversation_sql.create(conn, question[:120])
        elif not await conversation_sql.exists(conn, conversation_id):
            raise NotFound(
                f"there is no conversation {conversation_id}", code="unknown_conversation"
            )
        await conversation_sql.add_message(conn, conversation_id, "user", question)
    return Ask(question, conversation_id, uuid.uuid4())


async def stream_answer(resources: Resources, ask: Ask) -> AsyncIterator[Event]:
    """Answer events; once started, failures end the stream with an `error` event."""
    yield (
        "meta",
        {
            "conversation_id": str(ask.conversation_id),
            "message_id": str(ask.message_id),
            "provider": "extractive",
        },
    )
    try:
        started = time.perf_counter()
        passages = await search(resources.pool, resources.embedder, ask.question, TOP_K)
        retrieved = time.perf_counter()
        sources = [
            {"n": n, **{k: v for k, v in p.to_json().items() if k != "text"}}
            for n, p in enumerate(passages, start=1)
        ]
        yield "sources", {"sources": sources}
        if passages:
            answer = await extractive.compose(ask.question, passages, resources.embedder)
        else:
            answer = NO_DOCUMENTS
        for token in re.findall(r"\s*\S+", answer):
            yield "token", {"text": token}
        generated = time.perf_counter()
        async with resources.pool.acquire() as conn:
            await conversation_sql.add_message(
                conn,
                ask.conversation_id,
                "assistant",
                answer,
                sources=sources,
                message_id=ask.message_id,
            )
        yield (
            "done",
            {
                "timings_ms": {
                    "retrieve": round((retrieved - started) * 1000, 1),
                    "generate": round((generated - retrieved) * 1000, 1),
                },
                # Extractive sentences are copied verbatim from the source they cite.
                "unsupported_citations": [],
            },
        )
    except Exception:
        log.exception("answer to %r failed", ask.question)
        yield (
            "error",
            {
                "code": "internal_error",
                "message": "Answering failed on the server; try again, and check the server log "
                "if it keeps failing.",
            },
        )
