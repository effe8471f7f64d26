"""Provider `extractive`: no model, the passages' own sentences (see app/rag/extractive.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

from app.rag import extractive
from app.rag.embedders import Embedder
from app.rag.llm.base import Turn
from app.rag.retrieve import Passage

# How many earlier questions of the conversation join a follow-up's search query.
HISTORY_QUESTIONS = 1


class ExtractiveLLM:
    name = "extractive"
    context_tokens = None
    rewrites_questions = False

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    async def stream(self, question: str, passages: Sequence[Passage]) -> AsyncIterator[str]:
        answer = await extractive.compose(question, passages, self.embedder)
        for token in re.findall(r"\s*\S+", answer):
            yield token

    async def standalone_question(self, question: str, history: Sequence[Turn]) -> str:
        # Without a model to rewrite it, a follow-up ("and how often?") is searched together
        # with the question before it, which usually names what "it" is.
        earlier = [t.content for t in history if t.role == "user"][-HISTORY_QUESTIONS:]
        return " ".join([*earlier, question])

    async def aclose(self) -> None:
        return None
