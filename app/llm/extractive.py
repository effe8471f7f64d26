"""Provider `extractive` (the default without an LLM): the passages' most relevant sentences,
verbatim, each followed by its [n] citation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from app.config import Settings
from app.llm.asks import Asked, coverage, fits_kind, held_terms, read_question, share
from app.llm.asks import rarity as _rarity
from app.llm.base import DEFAULT_STYLE, Passage, Rarity, Style, TextEmbedder, Turn, Vectors
from app.llm.decline import CLOSEST, DECLINED
from app.llm.quotable import asks_for_steps, is_quotable, is_step
from app.llm.similarity import Scale
from app.llm.tables import row_texts
from app.text.language import text_search_config
from app.text.sentences import sentence_spans

MAX_SENTENCES = 3
# How many sentences an answer of each length (a collection's assistant) quotes at most.
SENTENCES = {"short": 1, "medium": MAX_SENTENCES, "long": 5}
MAX_CANDIDATES = 80
# Below this cosine similarity to the question a sentence is judged off-topic
# (all-MiniLM-L6-v2 puts unrelated sentence pairs mostly under 0.2).
MIN_RELEVANCE = 0.3
# A sentence's score is its similarity plus these for what vectors miss (app/llm/asks.py):
# the share of the question's terms it holds, the share its passage holds, and holding the
# kind of thing asked for (a number for "how many"; missing it costs as much).
COVER_WEIGHT = 0.3
PASSAGE_COVER_WEIGHT = 0.1
KIND_WEIGHT = 0.05
# The decision to answer weighs the best sentence's score with the passages' hold on the
# question's terms: the largest share of them one passage holds, each term weighted by its
# rarity in the collection (a question about oxygen asked of documents that never say
# "oxygen" is not answered by their passages on other gases), and the plain share. Below
# EVIDENCE_FLOOR the documents are judged not to answer. One sum, not a floor per signal:
# in a language the embedding model reads poorly every sentence looks similar and the
# terms must carry the decision, in English the similarity does. The weights and floor
# decline the most unanswerable questions of the English and Portuguese tuning halves while
# declining at most 3.5% of their answerable ones (docs/answers.md).
RARE_TERMS_WEIGHT = 1.2
SHARED_TERMS_WEIGHT = 0.6
EVIDENCE_FLOOR = 1.35
# Quotes after the first stay within this much of its score.
SCORE_SPREAD = 0.15
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
        self,
        question: str,
        passages: Sequence[Passage],
        vectors: Vectors | None = None,
        style: Style = DEFAULT_STYLE,
    ) -> AsyncIterator[str]:
        if vectors is None:
            raise TypeError("the extractive provider ranks sentences by vectors: pass them")
        # The sentences' vectors were stored at ingestion and the question's was just used
        # (and cached) by the search: the answer costs no model run over the passages.
        answer = await compose(
            question, passages, vectors.embedder, vectors.sentences, vectors.question,
            max_sentences=SENTENCES[style.length], rarity=vectors.rarity, scale=vectors.scale,
        )  # fmt: skip
        for token in tokens(answer):
            yield token

    async def standalone_question(self, question: str, history: Sequence[Turn]) -> str | None:
        # Never asked (rewrites_questions is False): the Retriever searches a follow-up with
        # the conversation's earlier questions at a lower weight instead.
        return question

    async def models(self) -> list[str]:
        return []  # no model to choose: a Style's instructions and model do not apply

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
    *,
    max_sentences: int = MAX_SENTENCES,
    rarity: Rarity | None = None,
    scale: Scale | None = None,
) -> str:
    """An answer made of whole source sentences, each followed by its [n] citation, best
    first; or, when no sentence answers, DECLINED and the closest one, marked as such.

    `stored` holds each passage's sentence vectors from ingestion (None where missing);
    only the sentences without one, and the question, are embedded here. `rarity` tells how
    rare the question's terms are in the collection (else the passages alone tell); `scale`
    maps the embedder's cosines onto the one the floors were tuned in.
    """
    picked = await choose(
        question, passages, embedder, stored, question_vector,
        max_sentences=max_sentences, rarity=rarity, scale=scale,
    )  # fmt: skip
    if not picked.sentences:
        return DECLINED
    quoted = " ".join(f"{_clean(s.text)} [{s.source}]" for s in picked.sentences)
    return quoted if picked.answered else f"{DECLINED} {CLOSEST} {quoted}"


@dataclass(frozen=True)
class Choice:
    sentences: list[_Sentence]  # best first
    score: float  # the best sentence's score
    answered: bool
    shared: float = 0.0  # the largest share of the question's terms one passage holds
    evidence: float = 0.0  # what the decision to answer rests on (EVIDENCE_FLOOR)


async def choose(
    question: str,
    passages: Sequence[Passage],
    embedder: TextEmbedder,
    stored: Sequence[np.ndarray | None] = (),
    question_vector: np.ndarray | None = None,
    floor: float | None = None,
    *,
    max_sentences: int = MAX_SENTENCES,
    rarity: Rarity | None = None,
    scale: Scale | None = None,
) -> Choice:
    """The sentences that answer best, and whether they answer at all (the evidence reaches
    `floor`, EVIDENCE_FLOOR unless given: calibrated on unanswerable questions)."""
    candidates: list[_Sentence] = []
    vectors: list[np.ndarray | None] = []
    seen: set[str] = set()
    for n, passage in enumerate(passages, start=1):
        spans = sentence_spans(passage.text)
        pooled = stored[n - 1] if n <= len(stored) else None
        if pooled is not None and len(pooled) != len(spans):
            pooled = None  # stored by a different sentence splitter: embed afresh
        rows = row_texts(passage.text) if "|" in passage.text else {}
        for position, (start, end) in enumerate(spans):
            # A table row is read, and quoted, with its header (its stored vector lacks it).
            row = rows.get(start)
            text = row or passage.text[start:end]
            if not row and _inside_row(passage.text, start):
                continue  # the rest of a row the splitter cut at a cell's "Dr. "
            # Overlapping chunks repeat sentences: quote each once.
            if (row or is_quotable(text)) and (clean := _clean(text)) not in seen:
                seen.add(clean)
                candidates.append(_Sentence(n, position, text))
                vectors.append(None if pooled is None or row else pooled[position])
    candidates, vectors = candidates[:MAX_CANDIDATES], vectors[:MAX_CANDIDATES]
    if not candidates:
        return Choice([], 0.0, False)
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
    if scale is not None:
        by_part = scale.to_reference(by_part)
    relevance = by_part.max(axis=1)
    # The question's language, told by its words and its best passage's (a question alone
    # is often too short to tell): its stopwords and stemmer read the terms.
    language = text_search_config(f"{question} {passages[0].text[:1000]}")
    asked = read_question(question, language)
    held = [held_terms(asked, p.text + " " + " ".join(p.heading_path)) for p in passages]
    bonus, shared = _evidence(asked, held, candidates)
    weights = await rarity(sorted(asked.terms)) if rarity and asked.terms else None
    weights = weights or _rarity(asked, held)
    rare = max(share(asked, terms, weights) for terms in held)
    scores = relevance + bonus
    floors = np.maximum(MIN_RELEVANCE, 0.6 * by_part.max(axis=0))
    eligible = (by_part >= floors).any(axis=1) | (scores >= scores.max() - SCORE_SPREAD)
    chosen = _mmr(scores, sentences, eligible, max_sentences, scale)
    # Each part of a compound question keeps its best sentence among the quotes.
    leads = _leads(question, language, candidates, by_part) if len(ask_vectors) > 1 else set()
    merged = sorted(dict.fromkeys([*leads, *chosen]), key=lambda i: (i not in leads, -scores[i]))
    chosen = sorted(merged[:max_sentences], key=lambda i: -scores[i])
    best = float(scores[chosen[0]]) if chosen else 0.0
    evidence = best + RARE_TERMS_WEIGHT * rare + SHARED_TERMS_WEIGHT * shared
    answers = evidence >= (EVIDENCE_FLOOR if floor is None else floor)
    # A declined answer quotes only the closest sentence (the sources list the passages).
    keep = chosen if answers else chosen[:1]
    # Only sentences near the best one join it (a weak third quote dilutes a good answer),
    # and the best of each part of a compound question.
    keep = [i for i in keep if scores[i] >= best - SCORE_SPREAD or i in leads] or keep[:1]
    # "How do I ...?" is answered by its steps: a quoted instruction goes first (the choice
    # of sentences, and whether to answer, stay as scored).
    if asks_for_steps(question):
        keep.sort(key=lambda i: not is_step(candidates[i].text))
    return Choice([candidates[i] for i in keep], best, answers, shared, evidence)


def _leads(
    question: str, language: str, candidates: Sequence[_Sentence], by_part: np.ndarray
) -> set[int]:
    """The best sentence for each part of a compound question (columns: the whole question,
    then its parts), by similarity, the part's own terms and the kind of answer it asks for
    ("what percent ..., and how ...?": the part asking for a percentage gets a sentence
    holding one)."""
    texts = [question, *_parts(question)][-by_part.shape[1] :]
    leads = set()
    for column, text in enumerate(texts):
        asked = read_question(text, language)
        held = [COVER_WEIGHT * coverage(asked, c.text) + _kind_bonus(asked, c.text)
                for c in candidates]  # fmt: skip
        leads.add(int(np.argmax(by_part[:, column] + np.asarray(held, dtype=np.float32))))
    return leads


def _kind_bonus(asked: Asked, text: str) -> float:
    """Holding the kind of thing asked for (a number for "how many") counts for a sentence;
    missing it counts as much against."""
    if not asked.kind:
        return 0.0
    return KIND_WEIGHT if fits_kind(asked, text) else -KIND_WEIGHT


def _evidence(
    asked: Asked, held: Sequence[frozenset[str]], candidates: Sequence[_Sentence]
) -> tuple[np.ndarray, float]:
    """What vectors miss: how many of the question's terms the sentence (and, less, its
    passage: `held`, each passage's terms) holds, and whether it holds the kind of thing asked
    for; and the largest share of the question's terms one passage holds."""
    shares = [share(asked, terms) for terms in held]
    bonus = [
        COVER_WEIGHT * coverage(asked, c.text)
        + PASSAGE_COVER_WEIGHT * shares[c.source - 1]
        + _kind_bonus(asked, c.text)
        for c in candidates
    ]
    return np.asarray(bonus, dtype=np.float32), max(shares)


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


def _mmr(
    relevance: np.ndarray,
    vectors: np.ndarray,
    eligible: np.ndarray,
    most: int = MAX_SENTENCES,
    scale: Scale | None = None,
) -> list[int]:
    """Pick relevant sentences, each as unlike the ones already picked as possible."""
    chosen: list[int] = []
    while len(chosen) < most:
        redundancy = (
            (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(relevance))
        )
        if scale is not None:
            redundancy = scale.to_reference(redundancy)
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


def _inside_row(text: str, start: int) -> bool:
    """Whether `start` lies inside a table row's line, after its opening `|`."""
    line_start = text.rfind("\n", 0, start) + 1
    return text[line_start:start].lstrip().startswith("|")


def _clean(sentence: str) -> str:
    """On one line; the words stay exactly as they are in the source."""
    return " ".join(sentence.split())


def from_settings(settings: Settings) -> ExtractiveLLM:
    """LLM_PROVIDER=extractive (or auto without LLM_BASE_URL): needs no setting."""
    return ExtractiveLLM()
