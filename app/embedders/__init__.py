"""Embedding providers share one small protocol; `load_embedder` builds the one app.config's
EMBEDDING_PROVIDERS (and, for a local model, EMBEDDING_BACKENDS) table names."""

from __future__ import annotations

from app.config import EMBEDDING_BACKENDS, EMBEDDING_PROVIDERS, Settings
from app.embedders.base import Embedder


async def load_embedder(settings: Settings, *, threads: int = 0) -> Embedder:
    """Load the configured embedding provider; `threads` bounds the threads one local ONNX
    embedding uses (0: every core)."""
    choice = EMBEDDING_PROVIDERS[settings.embedding_provider]
    if choice.loader is None:
        choice = EMBEDDING_BACKENDS[settings.embedding_backend]
    return await choice.load()(settings, threads=threads)


__all__ = ["Embedder", "load_embedder"]
