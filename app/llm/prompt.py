"""The prompt: numbered sources with titles, citation rules, trimmed to a token budget."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from app.llm.base import Passage, Turn
from app.llm.decline import DECLINED

# A model must be able to decline: told the words to decline with, its refusal sets the
# answer's `answered` flag to false (app/llm/decline.py also reads other ways of saying so).
SYSTEM = f"""You answer questions using only the numbered sources below.
Cite the source of every claim with its number in square brackets, like [1] or [2][3], right
after the sentence it supports. Do not cite a source that does not say what the sentence says.
If the sources do not contain the answer, do not answer from general knowledge: reply with
exactly "{DECLINED}" and nothing else.

Sources:
"""

REWRITE = """Rewrite the last question of this conversation so that it can be understood on its
own, without the conversation: replace pronouns and references with what they refer to. Reply
with the rewritten question only, nothing else."""

# Room left in the budget for the instructions and the question itself.
RESERVED_TOKENS = 300
# A passage cut to fit keeps at least this many tokens, or is dropped.
MIN_PASSAGE_TOKENS = 40


def estimate_tokens(text: str) -> int:
    """Model tokenizers differ; about four characters a token holds for English BPE models."""
    return len(text) // 4 + 1


def fit_passages(passages: Sequence[Passage], budget: int) -> list[Passage]:
    """The best-ranked passages that fit in `budget` tokens; the last one may be cut short."""
    left = budget - RESERVED_TOKENS
    kept: list[Passage] = []
    for passage in passages:
        cost = estimate_tokens(_source_block(len(kept) + 1, passage))
        if cost <= left:
            kept.append(passage)
            left -= cost
            continue
        if left >= MIN_PASSAGE_TOKENS:
            # Cut at a word boundary: a half word only confuses the model.
            text = passage.text[: left * 4 - len(passage.title) - 16].rsplit(" ", 1)[0]
            kept.append(dataclasses.replace(passage, text=text + " …"))
        break
    return kept


def _source_block(n: int, passage: Passage) -> str:
    return f"[{n}] {passage.title}\n{passage.text}\n"


def answer_messages(question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
    """Chat messages asking for a cited answer; the sources go in the system message."""
    sources = "\n".join(_source_block(n, p) for n, p in enumerate(passages, start=1))
    return [
        {"role": "system", "content": SYSTEM + (sources or "(no sources were found)\n")},
        {"role": "user", "content": question},
    ]


def rewrite_messages(question: str, history: Sequence[Turn]) -> list[dict[str, str]]:
    lines = [f"{turn.role}: {turn.content}" for turn in history]
    lines.append(f"user: {question}")
    return [
        {"role": "system", "content": REWRITE},
        {"role": "user", "content": "\n".join(lines)},
    ]
