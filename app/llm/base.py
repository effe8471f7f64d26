"""The shape every answer generator (LLM provider) has."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.errors import LLMError
from app.rag.retrieve import Passage

__all__ = ["LLM", "LLMError", "Turn"]


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


class LLM(Protocol):
    name: str  # shown to people as the answer's provider
    # Whether it needs the context trimmed to a token budget (a real model's window).
    context_tokens: int | None
    # True: standalone_question() is a real rewrite, answered as asked. False: it is only a
    # better search query, and the answer is composed for the question as the person typed it.
    rewrites_questions: bool

    def stream(self, question: str, passages: Sequence[Passage]) -> AsyncIterator[str]:
        """The answer as text deltas, citing passages as [n] (1-based)."""
        ...

    async def standalone_question(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up rewritten so it can be understood without the conversation."""
        ...

    async def aclose(self) -> None: ...
