"""The shape every embedding provider has."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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


class InProcessEmbedder:
    """A model run in this process: the encoding runs on its own thread pool, off the loop.

    Subclasses set `dimension` and `_executor` and define `_encode` and `_encode_spans`.
    """

    dimension: int
    _executor: ThreadPoolExecutor

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def _encode_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        raise NotImplementedError

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode, texts)

    async def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode_spans, texts, spans)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
