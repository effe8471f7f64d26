"""Provider `extractive`: no model, the passages' own sentences (see app/rag/extractive.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

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
# Words that point back into the conversation, and openings that continue it.
_POINTERS = re.compile(
    r"\b(it|its|they|them|their|this|these|those|he|she|him|his|her|same|former|latter)\b", re.I
)
_CONTINUES = re.compile(r"^\W*(and|also|what about|how about|so|but|then)\b", re.I)
_WORD = re.compile(r"[^\W_]+")
_QUESTION_WORDS = frozenset(
    "what how when where which who whom why is are was were do does did can could should would "
    "will the a an of to in on at for and or about much many often more less be been any some "
    "there please tell me say says".split()
)


def leans_on_history(question: str) -> bool:
    """Does a follow-up need the question before it to say what it is about?"""
    if _POINTERS.search(question) or _CONTINUES.match(question):
        return True
    own = [w for w in _WORD.findall(question.lower()) if w not in _QUESTION_WORDS]
    return len(own) < 2  # "How often?", "And the cost?": no subject of its own


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
        for token in re.findall(r"\s*\S+", answer):
            yield token

    async def standalone_question(self, question: str, history: Sequence[Turn]) -> str:
        # Without a model to rewrite it, a follow-up ("and how often?") is searched together
        # with the question before it, which usually names what "it" is. A question that names
        # its own subject is searched alone: joined, the earlier topic pulled its passages in.
        if not leans_on_history(question):
            return question
        earlier = [t.content for t in history if t.role == "user"][-HISTORY_QUESTIONS:]
        return " ".join([*earlier, question])

    async def aclose(self) -> None:
        return None
