"""Answer evaluation: `python -m app eval-answers DATASET` over SQuAD 2.0-format questions.

The articles' paragraphs become one collection (so retrieval matters); each sampled question
is asked through the app's own Answerer, and scored: containment (the answer holds a gold
answer), token F1, citation precision (a cited passage holds a gold answer) and whether it
declined, against questions that are unanswerable (SQuAD's impossible ones, and questions of
articles that were not loaded). A sweep of the extractive answerer's floor shows how the
decline threshold trades refusal recall against answerable questions wrongly declined.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import numpy as np

from app.embedders import Embedder
from app.eval.run import collection_name, ensure_ingested
from app.eval.squad import (
    Article,
    Question,
    as_corpus,
    contains,
    first_quote,
    gold_sentences,
    holds_gold_sentence,
    same_sentence,
    sample,
    token_f1,
)
from app.llm import LLM, Passage
from app.llm.extractive import ExtractiveLLM, choose
from app.rag.answer import Answerer, Ask
from app.rag.retriever import Retriever, Scope, resolve_scope

_CITED = re.compile(r"\[(\d+)\]")
FLOORS = (1.15, 1.2, 1.25, 1.3, 1.35, 1.4, 1.45, 1.5, 1.6)


@dataclass(frozen=True)
class Outcome:
    question: Question
    answered: bool
    contained: bool
    f1: float
    cited: int  # citations in the answer
    cited_right: int  # of them, to a passage that holds a gold answer
    # The extractive answerer's evidence for answering (None: other LLMs), which its floor
    # is held against.
    evidence: float | None
    in_gold: bool = False  # the first quoted sentence is (mostly) a gold answer's sentence
    cited_gold: int = 0  # citations to a passage holding (most of) a gold answer's sentence


class CachedEmbedder:
    """The embedder with a memory of texts it embedded: questions share passages, and the
    eval's corpus stores no sentence vectors (the app's ingestion does)."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.seen: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if new:
            for text, vector in zip(new, await self.inner.embed(new), strict=True):
                self.seen[text] = vector
        if not texts:
            return np.zeros((0, self.inner.dimension), dtype=np.float32)
        return np.stack([self.seen[t] for t in texts])


async def evaluate_answers(
    pool: asyncpg.Pool,
    embedder: Embedder,
    articles: list[Article],
    absent: list[Article],
    *,
    name: str,
    per_kind: int,
    llm: LLM | None = None,
    queries: list[Question] | None = None,
    half: str | None = None,
) -> dict[str, Any]:
    """Ask the sampled questions over the articles' collection and score the answers."""
    cached = CachedEmbedder(embedder)
    corpus = as_corpus(name, articles)
    await ensure_ingested(pool, cached, corpus)  # type: ignore[arg-type]
    llm = llm or ExtractiveLLM()
    retriever = Retriever(pool, cached)  # type: ignore[arg-type]
    answerer = Answerer(pool, cached, llm, retriever)  # type: ignore[arg-type]
    scope = Scope(collection_name(corpus))
    questions = sample(articles, absent, per_kind, queries=queries, half=half)
    outcomes = []
    async with pool.acquire() as conn:
        collection_ids = [c["id"] for c in await resolve_scope(conn, scope)]
        for question in questions:
            answer = await answerer.complete(Ask(question.text, scope=scope))
            ids = [s["chunk_id"] for s in answer.sources]
            rows = await conn.fetch("SELECT id, text FROM chunks WHERE id = ANY($1)", ids)
            texts = dict(rows)
            passages = [_passage(s, texts.get(s["chunk_id"], "")) for s in answer.sources]
            outcome = _score(question, answer.text, answer.answered, passages, None)
            if isinstance(llm, ExtractiveLLM) and passages:
                # The answer's own decision, replayed to read its evidence: the same vectors,
                # similarity scale and collections.
                rarity = functools.partial(retriever.rarity, collection_ids=collection_ids)
                picked = await choose(
                    question.text, passages, cached, question_vector=await retriever.embed(
                        question.text), rarity=rarity, scale=await answerer.scale(),
                )  # fmt: skip
                outcome = replace(outcome, evidence=picked.evidence)
            outcomes.append(outcome)
    report = summarize(outcomes)
    report.update(
        dataset=name,
        articles=[a.title for a in articles],
        paragraphs=len(corpus.corpus),
        provider=llm.name,
        half=half,
    )
    if any(o.evidence is not None for o in outcomes):
        report["sweep"] = sweep(outcomes)
    return report


def _passage(source: dict[str, Any], text: str) -> Passage:
    fields = {k: source[k] for k in Passage.__dataclass_fields__ if k in source and k != "text"}
    return Passage(**{**fields, "text": text})


def _score(
    question: Question, text: str, answered: bool, passages: list[Passage], evidence: float | None
) -> Outcome:
    # Scored whether or not it declined (a declined answer still quotes the closest
    # sentences): the sweep re-decides `answered`, and summarize counts only answers given.
    cited = [int(n) for n in _CITED.findall(text)]
    right = sum(
        1 for n in cited
        if 1 <= n <= len(passages) and contains(passages[n - 1].text, question.answers)
    )  # fmt: skip
    # Gold answers that are passages (manuals) are never held whole by a few quoted
    # sentences: these two judge by sentence instead (for a span, they ask the same).
    first = first_quote(text)
    in_gold = any(same_sentence(first, gold) for gold in gold_sentences(question.answers))
    cited_gold = sum(
        1 for n in cited
        if 1 <= n <= len(passages) and holds_gold_sentence(passages[n - 1].text, question.answers)
    )  # fmt: skip
    return Outcome(
        question, answered, contains(text, question.answers), token_f1(text, question.answers),
        len(cited), right, evidence, in_gold=in_gold, cited_gold=cited_gold,
    )  # fmt: skip


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    answerable = [o for o in outcomes if o.question.answers]
    given = [o for o in answerable if o.answered]
    unanswerable = [o for o in outcomes if not o.question.answers]
    declined = [o for o in outcomes if not o.answered]
    rightly = [o for o in declined if not o.question.answers]
    cited = sum(o.cited for o in given)

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 3) if whole else None

    by_kind = {
        kind: share(sum(1 for o in outcomes if o.question.kind == kind and not o.answered),
                    sum(1 for o in outcomes if o.question.kind == kind))
        for kind in ("impossible", "absent")
    }  # fmt: skip
    return {
        "questions": {
            kind: sum(1 for o in outcomes if o.question.kind == kind)
            for kind in ("answerable", "impossible", "absent")
        },
        "containment": share(sum(o.contained for o in given), len(answerable)),
        "containment_when_answered": share(sum(o.contained for o in given), len(given)),
        "token_f1": share(round(sum(o.f1 for o in given) * 1000), len(answerable) * 1000),
        "citation_precision": share(sum(o.cited_right for o in given), cited),
        "answer_in_gold": share(sum(o.in_gold for o in given), len(answerable)),
        "citation_in_gold": share(sum(o.cited_gold for o in given), cited),
        "refusal_precision": share(len(rightly), len(declined)),
        "refusal_recall": share(len(rightly), len(unanswerable)),
        # The same for questions the collection has nothing on (the "vitamin D" case),
        # leaving SQuAD's impossible ones (asked of the very paragraph that nearly answers) out.
        "refusal_precision_absent": share(
            sum(1 for o in declined if o.question.kind == "absent"),
            sum(1 for o in declined if o.question.kind != "impossible"),
        ),
        "declined_impossible": by_kind["impossible"],
        "declined_absent": by_kind["absent"],
        "wrongly_declined": share(sum(1 for o in answerable if not o.answered), len(answerable)),
    }


def sweep(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The refusal figures had the extractive answerer's floor (EVIDENCE_FLOOR) been each of
    FLOORS (containment of an answer kept stays what it was: the floor only decides whether
    to decline)."""
    rows = []
    for floor in FLOORS:
        redone = [replace(o, answered=_answers(o, floor)) for o in outcomes]
        figures = summarize(redone)
        rows.append({"floor": floor, **{k: figures[k] for k in _SWEPT}})
    return rows


def _answers(outcome: Outcome, floor: float) -> bool:
    return outcome.evidence is not None and outcome.evidence >= floor


_SWEPT = (
    "containment", "refusal_precision", "refusal_recall", "declined_impossible",
    "declined_absent", "wrongly_declined",
)  # fmt: skip


def format_report(report: dict[str, Any]) -> str:
    counts = report["questions"]
    titles = report["articles"]
    # A manual's hundreds of sections are named by count, a few articles by title.
    named = ", ".join(titles) if len(titles) <= 8 else f"{len(titles)} articles"
    lines = [
        f"{report['dataset']} ({report['provider']}): {report['paragraphs']} paragraphs of "
        f"{named}; {counts['answerable']} answerable, "
        f"{counts['impossible']} impossible, {counts['absent']} absent questions",
    ]
    for key in ("containment", "containment_when_answered", "token_f1", "citation_precision",
                "answer_in_gold", "citation_in_gold",
                "refusal_precision", "refusal_recall", "refusal_precision_absent",
                "declined_impossible", "declined_absent",
                "wrongly_declined"):  # fmt: skip
        lines.append(f"  {key:<27}{report[key]}")
    if "sweep" in report:
        lines.append("  floor  " + "  ".join(f"{k[:14]:>14}" for k in _SWEPT))
        for row in report["sweep"]:
            lines.append(f"  {row['floor']:<5}  " + "  ".join(f"{str(row[k]):>14}" for k in _SWEPT))
    return "\n".join(lines)
