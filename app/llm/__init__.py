"""Answer generators: one protocol (base.py), one module per provider, auto.py picks."""

from app.llm.auto import load_llm
from app.llm.base import LLM, LLMError, Passage, Turn, Vectors

__all__ = ["LLM", "LLMError", "Passage", "Turn", "Vectors", "load_llm"]
