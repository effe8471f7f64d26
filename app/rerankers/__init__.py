"""Rerankers share one small protocol; `load_reranker` picks one by configuration."""

from __future__ import annotations

from app.config import Settings
from app.rerankers.base import Reranker


async def load_reranker(settings: Settings) -> Reranker | None:
    """The configured reranking stage, or None (RERANK_PROVIDER=none: it costs nothing)."""
    if settings.rerank_provider == "http":
        from app.rerankers.http import HttpReranker

        assert settings.rerank_base_url  # checked by config
        return HttpReranker(
            settings.rerank_base_url, model=settings.rerank_model, api_key=settings.rerank_api_key
        )
    if settings.rerank_provider == "local":
        from app.rerankers.local import LocalReranker

        assert settings.rerank_model  # checked by config
        return await LocalReranker.load(settings.rerank_model)
    return None


__all__ = ["Reranker", "load_reranker"]
