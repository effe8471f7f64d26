"""Build the LLM provider the settings name, from app.config's LLMS table (as uvicorn picks
its protocol from a table of import paths)."""

from __future__ import annotations

from app.config import LLMS, Settings
from app.llm.base import LLM


def load_llm(settings: Settings) -> LLM:
    return LLMS[settings.llm_provider].load()(settings)
