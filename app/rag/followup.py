"""A follow-up question searched with the conversation it belongs to, when no LLM rewrites it.

"What does he eat every morning?" names nobody: searched alone it finds every breakfast in
the collection. The earlier questions of the conversation say who "he" is, so their terms
join the lexical search and their embedding the vector one, both at a lower weight than the
question's own: a follow-up that changes the topic still ranks by its own words first, and
a follow-up that points back is pulled toward the passages the conversation was about.
The weight (Tuning.context_weight) is measured by bench/followups.py (docs/retrieval.md). No
word lists are involved, so it holds in every language the lexical index analyses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.llm.base import Turn

# How many earlier questions of the conversation join a follow-up's search (their weight
# is Tuning.context_weight).
HISTORY_QUESTIONS = 2
MAX_CONTEXT_CHARS = 1000  # a few questions; a pasted essay would drown the follow-up


@dataclass(frozen=True)
class Followup:
    question: str
    context: str  # the earlier questions, "" when there are none
    weight: float  # the context's weight (0 without context)

    @property
    def query(self) -> str:
        """What is searched, as text: the question, then its context in brackets."""
        return f"{self.question} ({self.context})" if self.context else self.question


def followup_of(question: str, history: Sequence[Turn], weight: float) -> Followup:
    """The question with the earlier user questions of `history` (oldest first) as context,
    at `weight` against the question's 1."""
    earlier = [t.content.strip() for t in history if t.role == "user" and t.content.strip()]
    earlier = [q for q in earlier[-HISTORY_QUESTIONS:] if q != question.strip()]
    context = " ".join(earlier)[-MAX_CONTEXT_CHARS:]
    return Followup(question, context, weight if context else 0.0)
