"""A collection's assistant: how questions asked of that collection alone are answered.

Its owner (or an admin) sets instructions, answer length, how many passages to use, reranking
and the model; anything left unset is the site's default, and a question across several
collections is answered with the site's defaults. The Answerer applies it (app/rag/answer.py):
k and rerank go to the one Retriever, the rest to the LLM as a Style.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from app.db import assistants as assistant_sql
from app.errors import Unprocessable
from app.llm.base import LENGTHS, Length, Style

# The bounds the API enforces; migrations/0027 holds the same in CHECK constraints.
MAX_INSTRUCTIONS = 4000
MIN_PASSAGES, MAX_PASSAGES = 1, 20
MAX_MODEL_CHARS = 200
DEFAULT_PASSAGES = 5  # the site's: enough for most questions, few enough for a small window
FIELDS = assistant_sql.FIELDS


@dataclass(frozen=True)
class Assistant:
    """A collection's answer settings; None (and no instructions) is the site's default."""

    instructions: str = ""
    length: Length | None = None
    passages: int | None = None
    rerank: bool | None = None
    model: str | None = None

    @property
    def k(self) -> int:
        return self.passages or DEFAULT_PASSAGES

    @property
    def reranks(self) -> bool:
        """Off only when turned off: by default the configured reranker (if any) is used."""
        return self.rerank is not False

    def style(self) -> Style:
        return Style(self.instructions, self.length or "medium", self.model)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SITE_DEFAULT = Assistant()


async def load(conn: asyncpg.Connection, collection_id: int) -> Assistant:
    """The collection's assistant (the site's default when none was set)."""
    row = await assistant_sql.get(conn, collection_id)
    return SITE_DEFAULT if row is None else Assistant(*(row[f] for f in FIELDS))


async def parse(
    body: Any, models: Callable[[], Awaitable[list[str]]], default_model: str | None
) -> Assistant:
    """Validate a PUT body: every field optional (missing or null: the site's default);
    Unprocessable (422) naming what is wrong. `models()` lists those the provider offers
    (empty: no model can be chosen), asked last and only for a model other than
    `default_model`, the configured one, which is always allowed."""
    if not isinstance(body, dict):
        raise _invalid(
            'send a JSON object such as {"instructions": "...", "length": "short", '
            '"passages": 5, "rerank": true, "model": null}'
        )
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise _invalid(f"unknown setting {unknown[0]!r}: the settings are {', '.join(FIELDS)}")
    instructions = body.get("instructions") or ""
    if not isinstance(instructions, str):
        raise _invalid("instructions must be text")
    if len(instructions) > MAX_INSTRUCTIONS:
        raise _invalid(
            f"the instructions are {len(instructions)} characters long: at most "
            f"{MAX_INSTRUCTIONS} are allowed, shorten them",
            "instructions_too_long",
        )
    if "\x00" in instructions:
        raise _invalid("the instructions hold a NUL character: remove it")
    length = body.get("length")
    if length is not None and length not in LENGTHS:
        raise _invalid(f"length must be one of {', '.join(LENGTHS)} (or null for the default)")
    passages = body.get("passages")
    if passages is not None and (
        isinstance(passages, bool)
        or not isinstance(passages, int)
        or not MIN_PASSAGES <= passages <= MAX_PASSAGES
    ):
        raise _invalid(
            f"passages must be a whole number from {MIN_PASSAGES} to {MAX_PASSAGES} "
            f"(got {passages!r})",
            "passages_out_of_range",
        )
    rerank = body.get("rerank")
    if rerank is not None and not isinstance(rerank, bool):
        raise _invalid("rerank must be true or false (or null for the default)")
    model = body.get("model") or None
    if model is not None and (not isinstance(model, str) or len(model) > MAX_MODEL_CHARS):
        raise _invalid(
            f"model must be the name of one the model server lists (text of at most "
            f"{MAX_MODEL_CHARS} characters)",
            "unknown_model",
        )
    if model is not None and model != default_model:
        listed = await models()
        if not listed:
            raise _invalid(
                "no language model is configured (answers are extractive), so no model can be "
                "chosen: send model null",
                "unknown_model",
            )
        if model not in listed:
            shown = ", ".join(repr(m) for m in listed[:20])
            raise _invalid(
                f"unknown model {model!r}: the model server lists {shown}",
                "unknown_model",
            )
    return Assistant(instructions.strip(), length, passages, rerank, model)


def _invalid(message: str, code: str = "bad_assistant") -> Unprocessable:
    return Unprocessable(message, code=code)
