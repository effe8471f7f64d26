"""Pick the LLM provider named by the settings (like uvicorn's protocols/http/auto.py)."""

from __future__ import annotations

from app.config import Settings
from app.llm.base import LLM


def load_llm(settings: Settings) -> LLM:
    if settings.llm_provider == "openai":
        from app.llm.openai import OpenAILLM

        return OpenAILLM(settings)
    from app.llm.extractive import ExtractiveLLM

    return ExtractiveLLM()
