"""Answer generators: one protocol (base.py), one module per provider, auto.py picks."""

from app.llm.auto import load_llm
from app.llm.base import DEFAULT_STYLE, LLM, LLMError, Passage, Style, Turn, Vectors

__all__ = [
    "DEFAULT_STYLE", "LLM", "LLMError", "Passage", "Style", "Turn", "Vectors", "load_llm"
]  # fmt: skip
