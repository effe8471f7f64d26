"""The shape every reranker has: a question and passages in, one relevance score each out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class RerankError(Exception):
    """The reranker failed; search falls back to the fused order."""


class Reranker(Protocol):
    name: str

    async def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """One score per text, higher is more relevant (any scale)."""
        ...

    async def close(self) -> None: ...
