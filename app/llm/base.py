"""The shape every answer generator (LLM provider) has, and what it is given."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from app.errors import LLMError

if TYPE_CHECKING:
    from app.llm.similarity import Scale

__all__ = ["DEFAULT_STYLE", "LLM", "LLMError", "Style", "Turn"]

Length = Literal["short", "medium", "long"]
LENGTHS: tuple[Length, ...] = ("short", "medium", "long")


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: what an answer is composed from and cites as [n]."""

    chunk_id: int
    document_id: str
    title: str
    text: str
    snippet: str
    page: int | None
    heading_path: list[str]
    score: float

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "score": round(self.score, 6)}


@dataclass(frozen=True)
class Style:
    """How one answer is written: a collection's assistant sets it (app/rag/assistant.py);
    the defaults are the site's."""

    instructions: str = ""  # the collection owner's words, added after the citation rules
    length: Length = "medium"  # medium: as the site answers without settings
    model: str | None = None  # None: the configured one (LLM_MODEL)


DEFAULT_STYLE = Style()


class TextEmbedder(Protocol):
    """What a provider may embed with (any `app.embedders` provider has this method)."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...


Rarity = Callable[[Sequence[str]], Awaitable[Mapping[str, float]]]


@dataclass(frozen=True)
class Vectors:
    """Embeddings for a provider that ranks by them (`needs_vectors`), fetched by retrieval:
    providers never query storage."""

    question: np.ndarray  # the question's embedding, as cached by the search
    sentences: Sequence[np.ndarray | None]  # per passage, stored at ingestion; None: not stored
    embedder: TextEmbedder  # for what has no stored vector
    # How rare each of the question's terms (stems) is in the searched collections (idf);
    # None: weighed by the passages alone.
    rarity: Rarity | None = None
    # The embedder's cosines mapped onto the scale the answerer's floors were tuned in
    # (app/llm/similarity.py); None: already that scale (the bundled MiniLM).
    scale: Scale | None = None


class LLM(Protocol):
    name: str  # shown to people as the answer's provider
    # Whether it needs the context trimmed to a token budget (a real model's window).
    context_tokens: int | None
    # True: standalone_question() is a real rewrite, answered as asked. False: it is only a
    # better search query, and the answer is composed for the question as the person typed it.
    rewrites_questions: bool
    # True: stream() must be given `vectors`.
    needs_vectors: bool

    def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        vectors: Vectors | None = None,
        style: Style = DEFAULT_STYLE,
    ) -> AsyncIterator[str]:
        """The answer as text deltas, citing passages as [n] (1-based), written as `style`
        says (a provider applies what it can: the extractive one only the length)."""
        ...

    async def models(self) -> list[str]:
        """The models a Style may name (what the provider lists); empty: none can be named."""
        ...

    async def standalone_question(self, question: str, history: Sequence[Turn]) -> str | None:
        """A follow-up rewritten so it can be understood without the conversation; None when
        there is no usable rewrite (the call failed, or the reply is no rewrite): the
        follow-up is then searched with the conversation, as without a model."""
        ...

    async def aclose(self) -> None: ...
