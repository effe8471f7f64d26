"""Embedding providers share one small protocol; `load_embedder` picks one by configuration."""

from __future__ import annotations

from app.config import Settings
from app.embedders.base import Embedder


async def load_embedder(settings: Settings, *, threads: int = 0) -> Embedder:
    """Load the configured embedding provider; `threads` bounds the threads one local ONNX
    embedding uses (0: every core)."""
    if settings.embedding_provider == "local" and settings.embedding_backend != "torch":
        # ONNX Runtime, no PyTorch: the int8 MiniLM unless EMBEDDING_MODEL names a directory
        # holding model.onnx and tokenizer.json.
        from app.embedders.onnx import OnnxEmbedder

        return await OnnxEmbedder.load(settings.embedding_model, threads=threads)
    if settings.embedding_provider == "local":
        from app.embedders.local import LocalEmbedder

        return await LocalEmbedder.load(settings.embedding_model)
    if settings.embedding_provider == "openai":
        from app.embedders.openai import OpenAIEmbedder

        assert settings.embedding_base_url and settings.embedding_model  # checked by config
        return await OpenAIEmbedder.load(
            settings.embedding_base_url,
            settings.embedding_model,
            api_key=settings.embedding_api_key,
            max_tokens=settings.embedding_max_tokens,
        )
    raise ValueError(f"unknown embedding provider {settings.embedding_provider!r}")


__all__ = ["Embedder", "load_embedder"]
