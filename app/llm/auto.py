"""Pick the LLM provider named by the settings (like uvicorn's protocols/http/auto.py)."""

from __future__ import annotations

import asyncpg

from app.backends.cache import Cache
from app.config import Settings
from app.embedders import Embedder
from app.llm.base import LLM


def load_llm(
    settings: Settings, embedder: Embedder, pool: asyncpg.Pool, cache: Cache | None
) -> LLM:
    if settings.llm_provider == "openai":
        from app.llm.openai import OpenAILLM

        return OpenAILLM(settings)
    from app.llm.extractive import ExtractiveLLM

    return ExtractiveLLM(embedder, pool, cache)
