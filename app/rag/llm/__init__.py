"""Answer generators: one protocol (base.py), one module per provider, auto.py picks."""

from app.rag.llm.auto import load_llm
from app.rag.llm.base import LLM, LLMError, Turn

__all__ = ["LLM", "LLMError", "Turn", "load_llm"]
