"""A follow-up question searched with the conversation it belongs to, when no LLM rewrites it.

"What does he eat every morning?" names nobody: searched alone it finds every breakfast in
the collection. The earlier questions of the conversation say who "he" is, so their terms
join the lexical search and their embedding the vector one, both at a lower weight than the
question's own: a follow-up that changes the topic still ranks by its own words first, and
a follow-up that points back is pulled toward the passages the conversation was about.
The questions joined are the conversation's first (it names the topic; the fifth question
of a conversation about Sun Ra may say only "he") and the last two, with the start of the
last answer: it quotes the passages the conversation is at (a declined one joins nothing).
The weight (Tuning.context_weight) is measured by bench/followups.py (docs/retrieval.md). No
word lists are involved, so it holds in every language the lexical index analyses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.llm.base import Turn
from app.llm.decline import is_declined

# How many of the latest earlier questions join a follow-up's search, besides the
# conversation's first (their weight is Tuning.context_weight).
HISTORY_QUESTIONS = 2
MAX_QUESTION_CHARS = 400  # of each earlier question: a pasted essay would drown the follow-up
MAX_ANSWER_CHARS = 400  # of the last answer: its first sentences say what it was about
_CITATION = re.compile(r"\s*\[\d+\]")


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
    """The question with the conversation in `history` (oldest first) as context, at `weight`
    against the question's 1: its first question, the last HISTORY_QUESTIONS, the last answer."""
    asked = [t.content.strip() for t in history if t.role == "user" and t.content.strip()]
    earlier = asked[:1] + asked[1:][-HISTORY_QUESTIONS:]
    parts = [q[:MAX_QUESTION_CHARS] for q in earlier if q != question.strip()]
    answers = [t.content for t in history if t.role == "assistant"]
    if answers and not is_declined(answers[-1]):
        parts.append(" ".join(_CITATION.sub("", answers[-1]).split())[:MAX_ANSWER_CHARS])
    context = " ".join(p for p in parts if p)
    return Followup(question, context, weight if context else 0.0)
