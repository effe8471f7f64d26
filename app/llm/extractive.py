"""Provider `extractive`: no model, the passages' own sentences (see app/rag/extractive.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence

import asyncpg

from app.cache import Cache
from app.db import chunks as chunk_sql
from app.embedders import Embedder
from app.ingest.embed import sentence_vectors
from app.llm.base import Turn
from app.rag import extractive
from app.rag.retrieve import Passage, embed_query

# How many earlier questions of the conversation join a follow-up's search query.
HISTORY_QUESTIONS = 1
_WORD = re.compile(r"\S+")


def tokens(answer: str) -> Iterator[str]:
    """Each word with the spaces before it (trailing spaces are dropped)."""
    # Not `re.findall(r"\s*\S+")`: it retried every suffix of a trailing run of spaces.
    start = 0
    for word in _WORD.finditer(answer):
        yield answer[start : word.end()]
        start = word.end()


class ExtractiveLLM:
    name = "extractive"
    context_tokens = None
    rewrites_questions = False

    def __init__(self, embedder: Embedder, pool: asyncpg.Pool, cache: Cache | None) -> None:
        self.embedder = embedder
        self.pool = pool
        self.cache = cache

    async def stream(self, question: str, passages: Sequence[Passage]) -> AsyncIterator[str]:
        # The sentences' vectors were stored at ingestion and the question's was just used
        # (and cached) by the search: the answer costs no model run over the passages.
        async with self.pool.acquire() as conn:
            stored = await chunk_sql.sentence_vectors(conn, [p.chunk_id for p in passages])
        dimension = self.embedder.dimension
        answer = await extractive.compose(
            question,
            passages,
            self.embedder,
            [sentence_vectors(stored.get(p.chunk_id), dimension) for p in passages],
            await embed_query(self.embedder, question, self.cache),
        )
        for token in tokens(answer):
            yield token

    async def standalone_question(self, question: str, history: Sequence[Turn]) -> str:
        # Without a model to rewrite it, a follow-up ("and how often?") is searched together
        # with the question before it, which usually names what "it" is.
        earlier = [t.content for t in history if t.role == "user"][-HISTORY_QUESTIONS:]
        return " ".join([*earlier, question])

    async def aclose(self) -> None:
        return None
