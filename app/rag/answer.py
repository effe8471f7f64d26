"""One answer as a sequence of protocol events (meta, sources, token..., done | error).

SSE, WebSocket and /v1/chat/completions all send what `Answerer.stream` yields; a completion
that is not streamed is the same events folded by `Answerer.complete`. One pipeline, so the
transports cannot drift.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import anyio
import asyncpg

from app.db import collections as collection_sql
from app.db import conversations as conversation_sql
from app.db import passages as passage_sql
from app.db.conversations import AnswerFacts
from app.embedders import Embedder
from app.embedders.onnx import NAME as REFERENCE_MODEL
from app.errors import NotFound
from app.infra.metrics import AnswerTimer
from app.llm import LLM, Passage, Turn, Vectors
from app.llm.decline import is_declined
from app.llm.prompt import fit_passages
from app.llm.similarity import Scale, scale_of
from app.rag import assistant as assistants
from app.rag.assistant import SITE_DEFAULT, Assistant
from app.rag.citations import unsupported_citations
from app.rag.protocol import DONE, META, SOURCES, TOKEN, Event, error_event
from app.rag.retriever import EVERYTHING, Retrieval, Retriever, Scope, resolve_scope

log = logging.getLogger(__name__)

HISTORY_MESSAGES = 6  # the last three exchanges are enough to resolve a follow-up
NO_DOCUMENTS = "There are no searchable documents yet: upload one and ask again."
SAVE_SECONDS = 5.0  # at most this long to store an interrupted answer
_SAVING: set[asyncio.Task[None]] = set()  # interrupted answers being stored


@dataclass(frozen=True)
class Ask:
    question: str
    # None: nothing is stored; the caller keeps the conversation (the /v1 API).
    conversation_id: UUID | None = None
    message_id: UUID = field(default_factory=uuid.uuid4)
    history: tuple[Turn, ...] = ()
    scope: Scope = EVERYTHING
    # The asked collection's (app/rag/assistant.py); the site's across several collections.
    assistant: Assistant = SITE_DEFAULT


@dataclass(frozen=True)
class Answer:
    """A whole answer: the events of one ask, folded."""

    message_id: UUID
    text: str
    sources: list[dict[str, Any]]
    unsupported_citations: list[dict[str, Any]]
    timings_ms: dict[str, float]
    answered: bool  # False: the documents did not answer it (the text says so)


@dataclass
class Answerer:
    """The answer service: retrieval, generation and citation checks over its adapters."""

    pool: asyncpg.Pool
    embedder: Embedder
    llm: LLM
    retriever: Retriever  # the same one /api/search and eval rank with

    async def open(
        self,
        question: str,
        conversation_id: UUID | None = None,
        scope: Scope = EVERYTHING,
        *,
        user_id: UUID,
    ) -> Ask:
        """Store the question (in a new conversation of the user unless one is given);
        NotFound if the conversation (the user's) or the collection is unknown."""
        async with self.pool.acquire() as conn:
            assistant = await _assistant(conn, scope)
            if conversation_id is None:
                # Every ask holds a pooled connection meanwhile: one round trip, not five.
                conversation_id = await conversation_sql.start(
                    conn, question[:120], question, user_id=user_id
                )
                return Ask(question, conversation_id, scope=scope, assistant=assistant)
            async with conn.transaction():
                if not await conversation_sql.exists(conn, conversation_id, user_id=user_id):
                    raise NotFound(
                        f"there is no conversation {conversation_id}", code="unknown_conversation"
                    )
                rows = await conversation_sql.recent_messages(
                    conn, conversation_id, HISTORY_MESSAGES
                )
                history = tuple(Turn(r["role"], r["content"]) for r in rows)
                await conversation_sql.add_message(conn, conversation_id, "user", question)
        return Ask(question, conversation_id, history=history, scope=scope, assistant=assistant)

    async def open_unstored(
        self, question: str, history: Sequence[Turn], scope: Scope = EVERYTHING
    ) -> Ask:
        """An ask whose conversation the caller keeps: nothing is stored. NotFound if the
        collection is unknown."""
        assistant = SITE_DEFAULT
        if scope.collection is not None:
            async with self.pool.acquire() as conn:
                assistant = await _assistant(conn, scope)
        return Ask(question, history=tuple(history), scope=scope, assistant=assistant)

    async def collections(self, readable: Sequence[int] | None = None) -> list[str]:
        """The names of the collections a question can be limited to (among the `readable`
        ids when given)."""
        async with self.pool.acquire() as conn:
            if readable is None:
                return await collection_sql.names(conn)
            return await collection_sql.names_among(conn, list(readable))

    async def stream(self, ask: Ask) -> AsyncIterator[Event]:
        """The ask's events; once started, failures end them with an `error` event. An answer
        of a stored conversation that ends without `done` (an error, or cancelled: the client
        stopped or went away, the server shut down) is stored as far as it got, interrupted."""
        timer = AnswerTimer()  # time to first token, duration and outcome (/metrics)
        partial = _Partial()  # what was sent, should it need storing
        try:
            # aclosing: a cancelled or abandoned stream closes the upstream request at once.
            async with aclosing(self._events(ask, partial)) as events:
                async for event in events:
                    if not timer.first and event[0] == TOKEN:
                        timer.token()
                    yield event
        except Exception as exc:
            name, data = error_event(exc)
            timer.end("error", data["code"])
            await self._keep_interrupted(ask, partial)  # before the client hears of it
            yield name, data
            return
        except BaseException:  # cancelled, or the client went away
            timer.end("cancelled")
            await self._keep_interrupted(ask, partial)
            raise
        timer.end("done")

    async def _keep_interrupted(self, ask: Ask, partial: _Partial) -> None:
        """Store what was streamed as an interrupted answer: shielded from the cancellation
        that ended the stream, and bounded (a shutdown does not wait on a database that is
        away)."""
        if ask.conversation_id is None or partial.done is not None or not partial.parts:
            return  # (an answer that never began is a failed ask: the question stands alone)
        saving = asyncio.ensure_future(self._store_interrupted(ask, partial))
        _SAVING.add(saving)  # held: a task only the loop refers to may be collected
        saving.add_done_callback(_SAVING.discard)
        # A second cancellation (anyio scopes repeat theirs) does not stop the save, only
        # the wait for it.
        with anyio.CancelScope(shield=True):
            await asyncio.shield(saving)

    async def keep_logged(self, records: Sequence[tuple[int, str, Any]]) -> None:
        """Store, as interrupted, an answer whose producer died (SIGKILL, a crash) from the
        events it logged: called by the worker a client resumed on."""
        meta: dict[str, Any] = {}
        partial = _Partial()
        for _, name, data in records:
            meta = data if name == META else meta
            partial.add((name, data))
        if meta.get("conversation_id"):
            ask = Ask("", UUID(meta["conversation_id"]), UUID(meta["message_id"]))
            await self._keep_interrupted(ask, partial)

    async def _store_interrupted(self, ask: Ask, partial: _Partial) -> None:
        assert ask.conversation_id is not None
        try:
            async with asyncio.timeout(SAVE_SECONDS):
                async with self.pool.acquire() as conn:
                    await conversation_sql.keep_interrupted(
                        conn, ask.conversation_id, ask.message_id, partial.text(), partial.sources
                    )
        except Exception as exc:  # the database is away, or too slow: the answer is lost
            log.warning("an interrupted answer (%s) could not be stored: %r", ask.message_id, exc)

    async def complete(self, ask: Ask, *, retrieved: Callable[[], None] | None = None) -> Answer:
        """The ask's events folded into one answer; raises what would be an `error` event.
        `retrieved` is called once the sources are known (admission: the start is over)."""
        partial = _Partial()
        async with aclosing(self._events(ask, partial)) as events:
            async for name, _ in events:
                if name == SOURCES and retrieved is not None:
                    retrieved()
        assert partial.done is not None  # _events ends with done, or raises
        return Answer(
            ask.message_id,
            partial.text(),
            partial.sources,
            partial.done["unsupported_citations"],
            partial.done["timings_ms"],
            partial.done["answered"],
        )

    async def _events(self, ask: Ask, partial: _Partial) -> AsyncIterator[Event]:
        """meta, sources, token..., done, each added to `partial` as it is yielded; raises on
        failure (LLMError says what to fix)."""

        def sent(event: Event) -> Event:
            partial.add(event)
            return event

        llm = self.llm
        conversation_id = ask.conversation_id
        yield sent(
            (
                META,
                {
                    "conversation_id": None if conversation_id is None else str(conversation_id),
                    "message_id": str(ask.message_id),
                    "provider": llm.name,
                },
            )
        )
        started = time.perf_counter()
        retrieval = await self._retrieve(ask)
        passages = retrieval.passages
        if llm.context_tokens is not None:
            passages = fit_passages(passages, llm.context_tokens)
        # A model's rewrite is answered as asked; without one, the question as typed is.
        asked = retrieval.query if llm.rewrites_questions else ask.question
        needs = passages and llm.needs_vectors
        vectors = await self._vectors(retrieval, passages) if needs else None
        retrieved = time.perf_counter()
        # Each source keeps its passage's digest, not its text: a stored answer tells later
        # whether the passage it cited still says the same (app/routes/passages.py).
        sources = [
            {
                "n": n,
                **{k: v for k, v in p.to_json().items() if k != "text"},
                "digest": passage_sql.digest(p.text),
            }
            for n, p in enumerate(passages, start=1)
        ]
        yield sent((SOURCES, {"sources": sources}))
        if passages:
            style = ask.assistant.style()
            async with aclosing(llm.stream(asked, passages, vectors, style)) as deltas:
                async for delta in deltas:
                    yield sent((TOKEN, {"text": delta}))
        else:
            yield sent((TOKEN, {"text": NO_DOCUMENTS}))
        text = partial.text()
        generated = time.perf_counter()
        # Every provider declines in words (app/llm/decline.py); the flag is read from them.
        answered = bool(passages) and not is_declined(text)
        unsupported = await unsupported_citations(text, passages, self.embedder, await self.scale())
        timings_ms = {
            "retrieve": round((retrieved - started) * 1000, 1),
            "generate": round((generated - retrieved) * 1000, 1),
            "check": round((time.perf_counter() - generated) * 1000, 1),
        }
        if conversation_id is not None:
            async with self.pool.acquire() as conn:
                await conversation_sql.add_message(
                    conn,
                    conversation_id,
                    "assistant",
                    text,
                    sources=sources,
                    message_id=ask.message_id,
                    facts=AnswerFacts(llm.name, answered, unsupported),
                )
        done = {"timings_ms": timings_ms, "unsupported_citations": unsupported}
        yield sent((DONE, {**done, "answered": answered}))

    async def _retrieve(self, ask: Ask) -> Retrieval:
        """The passages for the ask: a follow-up is rewritten by the LLM when it can (one
        short call), else searched with the earlier questions at a lower weight (also when the
        rewrite fails: the model then answers the question with them in brackets)."""
        k, rerank = ask.assistant.k, ask.assistant.reranks
        if ask.history and self.llm.rewrites_questions:
            query = await self.llm.standalone_question(ask.question, ask.history)
            if query is not None:
                return await self.retriever.retrieve(query, scope=ask.scope, k=k, rerank=rerank)
        return await self.retriever.retrieve(
            ask.question, scope=ask.scope, k=k, history=ask.history, rerank=rerank
        )

    async def _vectors(self, retrieval: Retrieval, passages: Sequence[Passage]) -> Vectors:
        # The vector the search used: a follow-up's leans toward the conversation's topic.
        question = retrieval.vector
        if question is None:
            question = await self.retriever.embed(retrieval.query)
        return Vectors(
            question=question,
            sentences=await self.retriever.sentence_vectors(passages),
            embedder=self.embedder,
            rarity=functools.partial(
                self.retriever.rarity, collection_ids=retrieval.collection_ids
            ),
            scale=await self.scale(),
        )

    async def scale(self) -> Scale | None:
        """The embedder's similarity scale; None for the model the floors were tuned on (the
        shipped MiniLM file; onnx-q8, its int8-activation variant, is measured like any other)."""
        return None if self.embedder.name == REFERENCE_MODEL else await scale_of(self.embedder)


async def _assistant(conn: asyncpg.Connection, scope: Scope) -> Assistant:
    """The assistant of the one collection asked (NotFound when it is unknown or may not be
    read); the site's default for a question across several."""
    collections = await resolve_scope(conn, scope)
    if scope.collection is None:
        return SITE_DEFAULT
    return await assistants.load(conn, collections[0]["id"])


@dataclass
class _Partial:
    """The events of an answer so far, folded: its text (stored when it is done, or cut),
    sources and, once done, the `done` event's data."""

    parts: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None  # set once stored complete and said done

    def add(self, event: Event) -> None:
        name, data = event
        if name == TOKEN:
            # Joined now and then: += would copy the whole answer for every token, and a list
            # of 1,200 small strings is 60 KB per stream (16 of them, about 1 KB).
            self.parts.append(data["text"])
            if len(self.parts) == 16:
                self.parts[:] = ["".join(self.parts)]
        elif name == SOURCES:
            self.sources = data["sources"]
        elif name == DONE:
            self.done = data

    def text(self) -> str:
        return "".join(self.parts)
