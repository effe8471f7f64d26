"""The shape every embedding provider has."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    name: str
    dimension: int
    max_tokens: int  # the model's window, without special tokens: chunks must fit in it

    def count_tokens(self, text: str) -> int:
        """How many model tokens the text takes."""
        ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    async def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """`embed(texts)`, and unit vectors of each text's character spans pooled from the
        same pass (late chunking); None for a text whose spans the provider cannot pool."""
        ...

    async def close(self) -> None: ...
