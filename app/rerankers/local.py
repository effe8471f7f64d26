"""A sentence-transformers CrossEncoder from a local directory (needs requirements-torch.txt).

Nothing is downloaded: RERANK_MODEL must be a path.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.config import Settings


class LocalReranker:
    def __init__(self, model: Any, name: str) -> None:
        self._model = model
        self.name = f"local:{name}"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rerank")

    @classmethod
    async def load(cls, path: str) -> LocalReranker:
        def build() -> Any:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import CrossEncoder

            return CrossEncoder(path, device="cpu")

        model = await asyncio.to_thread(build)
        return cls(model, os.path.basename(path.rstrip("/")) or path)

    def _score(self, query: str, texts: Sequence[str]) -> list[float]:
        scores = self._model.predict(
            [(query, text) for text in texts], batch_size=32, show_progress_bar=False
        )
        return [float(s) for s in scores]

    async def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._score, query, texts)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def from_settings(settings: Settings) -> LocalReranker:
    """RERANK_PROVIDER=local: the CrossEncoder in RERANK_MODEL (checked by config)."""
    assert settings.rerank_model
    return await LocalReranker.load(settings.rerank_model)
