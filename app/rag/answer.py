"""One answer as a sequence of protocol events (meta, sources, token..., done | error).

SSE and WebSocket both send what `stream_answer` yields, so the two transports cannot drift.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from app.db import collections as collection_sql
from app.db import conversations as conversation_sql
from app.errors import AppError, BadRequest, NotFound
from app.llm import Turn
from app.rag.citations import unsupported_citations
from app.rag.prompt import fit_passages
from app.rag.retrieve import EVERYTHING, Scope, search
from app.resources import Resources

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
TOP_K = 5
HISTORY_MESSAGES = 6  # the last three exchanges are enough to resolve a follow-up
NO_DOCUMENTS = "There are no searchable documents yet: upload one and ask again."

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Ask:
    question: str
    conversation_id: UUID
    message_id: UUID
    history: tuple[Turn, ...] = ()
    scope: Scope = EVERYTHING


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


def parse_scope(collection: object = None, document_ids: object = None) -> Scope:
    """What a question is limited to: a collection name and/or a list of document ids."""
    if collection is not None and not (
        isinstance(collection, str) and collection_sql.NAME.match(collection)
    ):
        raise BadRequest(
            f"{collection!r} is not a collection name: use {collection_sql.NAME_RULE}",
            code="bad_collection",
        )
    if document_ids is None:
        return Scope(collection or None)
    if not isinstance(document_ids, list) or not all(isinstance(i, str) for i in document_ids):
        raise BadRequest("document_ids must be a list of document ids", code="bad_documents")
    try:
        return Scope(collection or None, tuple(UUID(i) for i in document_ids))
    except ValueError:
        raise BadRequest(
            f"document_ids holds something that is not a document id: {document_ids!r}",
            code="bad_documents",
        ) from None


async def open_ask(
    resources: Resources,
    question: str,
    conversation_id: UUID | None,
    scope: Scope = EVERYTHING,
    *,
    user_id: UUID,
) -> Ask:
    """Store the question (in a new conversation unless one is given); NotFound if the
    conversation or the collection is unknown."""
    history: list[Turn] = []
    async with resources.pool.acquire() as conn:
        if scope.collection and not [
            c
            for c in await collection_sql.versions(conn, scope.collection)
            if scope.collection_ids is None or c["id"] in scope.collection_ids
        ]:
            raise NotFound(
                f"there is no collection {scope.collection!r}", code="unknown_collection"
            )
        if conversation_id is None:
            # Every ask holds a pooled connection meanwhile: one round trip, not five.
            conversation_id = await conversation_sql.start(
                conn, question[:120], question, user_id=user_id
            )
            return Ask(question, conversation_id, uuid.uuid4(), (), scope)
        async with conn.transaction():
            if not await conversation_sql.exists(conn, conversation_id, user_id=user_id):
                raise NotFound(
                    f"there is no conversation {conversation_id}", code="unknown_conversation"
                )
            rows = await conversation_sql.recent_messages(conn, conversation_id, HISTORY_MESSAGES)
            history = [Turn(r["role"], r["content"]) for r in rows]
            await conversation_sql.add_message(conn, conversation_id, "user", question)
    return Ask(question, conversation_id, uuid.uuid4(), tuple(history), scope)


@dataclass
class Outcome:
    """What an answer came to, filled in by `answer_events` as it goes."""

    text: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    unsupported: list[dict[str, Any]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)


async def answer_events(
    resources: Resources,
    question: str,
    history: Sequence[Turn],
    outcome: Outcome,
    scope: Scope | None = None,
) -> AsyncIterator[Event]:
    """`sources` then `token` events; raises on failure (LLMError says what to fix)."""
    llm = resources.llm
    started = time.perf_counter()
    query = await llm.standalone_question(question, history) if history else question
    passages = await search(
        resources.pool, resources.embedder, query, TOP_K, scope=scope, cache=resources.cache
    )
    if llm.context_tokens is not None:
        passages = fit_passages(passages, llm.context_tokens)
    retrieved = time.perf_counter()
    outcome.sources = [
        {"n": n, **{k: v for k, v in p.to_json().items() if k != "text"}}
        for n, p in enumerate(passages, start=1)
    ]
    yield "sources", {"sources": outcome.sources}
    if passages:
        asked = query if llm.rewrites_questions else question
        # Joined now and then: += would copy the whole answer for every token, and a list of
        # 1,200 small strings is 60 KB per stream (16 of them, about 1 KB).
        parts: list[str] = []
        try:
            async with aclosing(llm.stream(asked, passages)) as deltas:
                async for delta in deltas:
                    parts.append(delta)
                    if len(parts) == 16:
                        parts[:] = ["".join(parts)]
                    yield "token", {"text": delta}
        finally:
            outcome.text = "".join(parts)
    else:
        outcome.text = NO_DOCUMENTS
        yield "token", {"text": NO_DOCUMENTS}
    generated = time.perf_counter()
    outcome.unsupported = await unsupported_citations(outcome.text, passages, resources.embedder)
    outcome.timings_ms = {
        "retrieve": round((retrieved - started) * 1000, 1),
        "generate": round((generated - retrieved) * 1000, 1),
        "check": round((time.perf_counter() - generated) * 1000, 1),
    }


def error_event(exc: Exception) -> Event:
    """The `error` event a failed answer ends with; unexpected errors are logged."""
    if isinstance(exc, AppError):
        return "error", {"code": exc.code, "message": exc.message}
    log.error("answering failed", exc_info=exc)
    return (
        "error",
        {
            "code": "internal_error",
            "message": "Answering failed on the server; try again, and check the server log "
            "if it keeps failing.",
        },
    )


async def stream_answer(resources: Resources, ask: Ask) -> AsyncIterator[Event]:
    """Answer events; once started, failures end the stream with an `error` event."""
    yield (
        "meta",
        {
            "conversation_id": str(ask.conversation_id),
            "message_id": str(ask.message_id),
            "provider": resources.llm.name,
        },
    )
    outcome = Outcome()
    try:
        # aclosing: a cancelled or abandoned stream closes the upstream request at once.
        async with aclosing(
            answer_events(resources, ask.question, ask.history, outcome, ask.scope)
        ) as ev:
            async for event in ev:
                yield event
        async with resources.pool.acquire() as conn:
            await conversation_sql.add_message(
                conn,
                ask.conversation_id,
                "assistant",
                outcome.text,
                sources=outcome.sources,
                message_id=ask.message_id,
            )
    except Exception as exc:
        yield error_event(exc)
        return
    yield "done", {"timings_ms": outcome.timings_ms, "unsupported_citations": outcome.unsupported}
