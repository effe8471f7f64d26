"""Provider `extractive` (the default without an LLM): the passages' most relevant sentences,
verbatim, each followed by its [n] citation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from app.llm.base import Passage, TextEmbedder, Turn, Vectors
from app.text.sentences import sentence_spans

NO_ANSWER = "The uploaded documents do not seem to answer this question."
MAX_SENTENCES = 4
MAX_CANDIDATES = 80
# Below this cosine similarity to the question a sentence is judged off-topic
# (all-MiniLM-L6-v2 puts unrelated sentence pairs mostly under 0.2).
MIN_RELEVANCE = 0.3
# Maximal marginal relevance: weight of relevance against novelty.
MMR_LAMBDA = 0.7
_NONSPACE = re.compile(r"\S+")


def tokens(answer: str) -> Iterator[str]:
    """Each word with the spaces before it (trailing spaces are dropped)."""
    # Not `re.findall(r"\s*\S+")`: it retried every suffix of a trailing run of spaces.
    start = 0
    for word in _NONSPACE.finditer(answer):
        yield answer[start : word.end()]
        start = word.end()


class ExtractiveLLM:
    name = "extractive"
    context_tokens = None
    rewrites_questions = False
    needs_vectors = True

    async def stream(
        self, question: str, passages: Sequence[Passage], vectors: Vectors | None = None
    ) -> AsyncIterator[str]:
        if vectors is None:
            raise TypeError("the extractive provider ranks sentences by vectors: pass them")
        # The sentences' vectors were stored at ingestion and the question's was just used
        # (and cached) by the search: the answer costs no model run over the passages.
        answer = await compose(
            question, passages, vectors.embedder, vectors.sentences, vectors.question
        )
        for token in tokens(answer):
            yield token

    async def standalone_question(self, question: str, history: Sequence[Turn]) -> str:
        # Never asked (rewrites_questions is False): the Retriever searches a follow-up with
        # the conversation's earlier questions at a lower weight instead.
        return question

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class _Sentence:
    source: int  # 1-based number of the passage it comes from
    position: int
    text: str


async def compose(
    question: str,
    passages: Sequence[Passage],
    embedder: TextEmbedder,
    stored: Sequence[np.ndarray | None] = (),
    question_vector: np.ndarray | None = None,
) -> str:
    """An answer made of whole source sentences, each followed by its [n] citation.

    `stored` holds each passage's sentence vectors from ingestion (None where missing);
    only the sentences without one, and the question, are embedded here.
    """
    candidates: list[_Sentence] = []
    vectors: list[np.ndarray | None] = []
    seen: set[str] = set()
    for n, passage in enumerate(passages, start=1):
        spans = sentence_spans(passage.text)
        pooled = stored[n - 1] if n <= len(stored) else None
        if pooled is not None and len(pooled) != len(spans):
            pooled = None  # stored by a different sentence splitter: embed afresh
        for position, (start, end) in enumerate(spans):
            text = passage.text[start:end]
            # Overlapping chunks repeat sentences: quote each once.
            if _is_prose(text) and (clean := _clean(text)) not in seen:
                seen.add(clean)
                candidates.append(_Sentence(n, position, text))
                vectors.append(None if pooled is None else pooled[position])
    candidates, vectors = candidates[:MAX_CANDIDATES], vectors[:MAX_CANDIDATES]
    if not candidates:
        return NO_ANSWER
    asks = _parts(question) if question_vector is not None else [question, *_parts(question)]
    missing = [i for i, v in enumerate(vectors) if v is None]
    fresh = await embedder.embed(asks + [candidates[i].text for i in missing])
    ask_vectors = fresh[: len(asks)]
    if question_vector is not None:
        ask_vectors = np.vstack([question_vector, ask_vectors])
    for i, vector in zip(missing, fresh[len(asks) :], strict=True):
        vectors[i] = vector
    sentences = np.vstack(vectors)
    # Each part of a compound question ("how X, and how Y?") gets its own relevance floor,
    # so the weaker part is still answered; a sentence counts by the part it answers best.
    by_part = sentences @ ask_vectors.T
    floors = np.maximum(MIN_RELEVANCE, 0.6 * by_part.max(axis=0))
    relevance = by_part.max(axis=1)
    eligible = (by_part >= floors).any(axis=1)
    chosen = _mmr(relevance, sentences, eligible)
    if not chosen:
        return NO_ANSWER
    ordered = sorted(chosen, key=lambda i: _reading_order(passages, candidates[i]))
    return " ".join(f"{_clean(candidates[i].text)} [{candidates[i].source}]" for i in ordered)


def _reading_order(passages: Sequence[Passage], sentence: _Sentence) -> tuple[int, int, int]:
    """Documents by their best rank; within one, the order its author wrote it in."""
    passage = passages[sentence.source - 1]
    first_rank = next(i for i, p in enumerate(passages) if p.document_id == passage.document_id)
    # Chunk ids grow with the position in the document (a document's chunks are copied in order).
    return first_rank, passage.chunk_id, sentence.position


# Possessive runs of spaces, anchored after a non-space: linear, where `,?\s+and\s+` retried
# every start inside a long run of whitespace (quadratic).
_CLAUSE_BREAK = re.compile(
    r"[?;]|,?(?<!\s)\s++and\s++(?=(?:how|what|why|when|where|who|which)\b)", re.IGNORECASE
)


def _parts(question: str) -> list[str]:
    """The clauses of a compound question, when it has several; else nothing."""
    parts = [p.strip(" ,") for p in _CLAUSE_BREAK.split(question)]
    parts = [p for p in parts if len(p.split()) >= 2]
    return parts if len(parts) > 1 else []


def _mmr(relevance: np.ndarray, vectors: np.ndarray, eligible: np.ndarray) -> list[int]:
    """Pick relevant sentences, each as unlike the ones already picked as possible."""
    chosen: list[int] = []
    while len(chosen) < MAX_SENTENCES:
        redundancy = (
            (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(relevance))
        )
        scores = MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * redundancy
        scores[chosen] = -np.inf
        scores[~eligible] = -np.inf
        # A near-copy of a chosen sentence adds nothing.
        scores[redundancy > 0.95] = -np.inf
        pick = int(np.argmax(scores))
        if not np.isfinite(scores[pick]):
            break
        chosen.append(pick)
    return chosen


def _is_prose(sentence: str) -> bool:
    """Worth quoting: a few words, not a Markdown heading or table row."""
    return len(sentence.split()) >= 4 and not sentence.startswith(("#", "|"))


def _clean(sentence: str) -> str:
    """On one line; the words stay exactly as they are in the source."""
    return " ".join(sentence.split())
