"""Rerankers share one small protocol; `load_reranker` builds the one app.config's RERANKERS
table names."""

from __future__ import annotations

from app.config import RERANKERS, Settings
from app.rerankers.base import Reranker


async def load_reranker(settings: Settings) -> Reranker | None:
    """The configured reranking stage, or None (RERANK_PROVIDER=none: it costs nothing)."""
    choice = RERANKERS[settings.rerank_provider]
    if choice.loader is None:
        return None
    return await choice.load()(settings)


__all__ = ["Reranker", "load_reranker"]
