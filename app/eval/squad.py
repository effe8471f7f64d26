"""SQuAD 2.0-format question sets for the answer evaluation: articles of paragraphs, each
question with gold answers or marked impossible (answerable in no paragraph)."""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from app.eval.dataset import Dataset
from app.text.sentences import sentence_spans


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]  # empty: unanswerable
    kind: str  # "answerable", "impossible" (SQuAD's own), "absent" (from an article not loaded)


@dataclass(frozen=True)
class Article:
    title: str
    paragraphs: tuple[str, ...]
    questions: tuple[Question, ...]


def load_squad(path: Path, titles: frozenset[str] = frozenset()) -> list[Article]:
    """The file's articles (only those named in `titles`, when given); ValueError when the
    file is not SQuAD JSON."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        raw = data["data"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a SQuAD JSON file ({exc!r})") from None
    articles = []
    for article in raw:
        if titles and article["title"] not in titles:
            continue
        paragraphs, questions = [], []
        for paragraph in article["paragraphs"]:
            paragraphs.append(paragraph["context"])
            for qa in paragraph["qas"]:
                golds = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                impossible = bool(qa.get("is_impossible")) or not golds
                kind = "impossible" if impossible else "answerable"
                answers = () if impossible else golds
                questions.append(Question(str(qa["id"]), qa["question"], answers, kind))
        articles.append(Article(article["title"], tuple(paragraphs), tuple(questions)))
    if titles and (unknown := titles - {a.title for a in articles}):
        raise ValueError(f"{path} has no article titled {', '.join(sorted(unknown))}")
    return articles


def as_corpus(name: str, articles: list[Article]) -> Dataset:
    """The articles' paragraphs as documents (one collection; retrieval picks among them)."""
    corpus = {
        f"{a.title}#{i}": (a.title.replace("_", " "), text)
        for a in articles
        for i, text in enumerate(a.paragraphs)
    }
    digest = hashlib.sha256(json.dumps(sorted(corpus.items())).encode()).hexdigest()
    return Dataset(name, corpus, {}, {}, digest)


def load_queries(path: Path) -> list[Question]:
    """A BEIR queries.jsonl file's questions, asked as absent ones (another set's questions:
    the collection has nothing on them); ValueError when the file is not one."""
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        return [Question(f"{path.parent.name}:{r['_id']}", r["text"], (), "absent") for r in rows]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a BEIR queries.jsonl file ({exc!r})") from None


HALVES = ("tune", "validate")


def half_of(question: Question) -> str:
    """The half of a set a question falls in, by a hash of its id: thresholds are chosen on
    "tune" and checked on "validate" (the same articles, other questions)."""
    digest = hashlib.sha1(question.id.encode(), usedforsecurity=False).hexdigest()
    return HALVES[int(digest, 16) % 2]


def sample(
    articles: list[Article],
    absent: list[Article],
    per_kind: int,
    seed: int = 20,
    *,
    queries: list[Question] | None = None,
    half: str | None = None,
) -> list[Question]:
    """Up to `per_kind` answerable, impossible and absent questions (the answerable ones of
    articles that are not loaded: out of the collection, so unanswerable there; and
    `queries` of another set), of one half only when `half` is given."""
    rng = random.Random(seed)
    loaded = [q for a in articles for q in a.questions]
    away = [Question(q.id, q.text, (), "absent") for a in absent for q in a.questions if q.answers]
    away += queries or []
    if half is not None:
        loaded = [q for q in loaded if half_of(q) == half]
        away = [q for q in away if half_of(q) == half]
    picked = []
    for pool in (
        [q for q in loaded if q.kind == "answerable"],
        [q for q in loaded if q.kind == "impossible"],
        away,
    ):
        picked += rng.sample(pool, min(per_kind, len(pool)))
    return picked


# SQuAD's own answer normalisation: lower case, no punctuation, articles or extra space.
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CITATION = re.compile(r"\[\d+\]")


def normalize(text: str) -> str:
    text = _CITATION.sub(" ", text.lower())
    text = "".join(ch for ch in text if ch not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains(answer: str, golds: tuple[str, ...]) -> bool:
    flat = f" {normalize(answer)} "
    return any(f" {normalize(g)} " in flat for g in golds if normalize(g))


def token_f1(answer: str, golds: tuple[str, ...]) -> float:
    """SQuAD's token F1 against the best gold answer."""
    said = normalize(answer).split()
    best = 0.0
    for gold in golds:
        wanted = normalize(gold).split()
        common = sum((Counter(said) & Counter(wanted)).values())
        if common:
            precision, recall = common / len(said), common / len(wanted)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


# Gold answers that are passages (E-Manual QA's manual excerpts) are judged by sentence: their
# lines were glued without a space ("settings.From Camera, tap"), so a sentence also ends at
# a stop or a colon directly followed by a capital.
_GOLD_BREAK = re.compile(r"(?<=[.!?])\s*(?=[A-Z\"“(])|(?<=:)(?=[A-Z])")
SAME_SENTENCE_F1 = 0.6
MIN_HELD_WORDS = 4  # a sentence this long, held whole by a gold sentence, is one of its own


def gold_sentences(golds: tuple[str, ...]) -> list[str]:
    """The gold answers' sentences (a span is one sentence)."""
    return [s for g in golds for s in _GOLD_BREAK.split(g) if normalize(s)]


def same_sentence(sentence: str, gold: str) -> bool:
    """Whether a quoted sentence is (mostly) a gold sentence: token F1 >= 0.6, or it holds
    the gold sentence (a span, for SQuAD), or a gold sentence holds it whole."""
    said, wanted = normalize(sentence), normalize(gold)
    if not said or not wanted:
        return False
    if f" {wanted} " in f" {said} ":
        return True
    if len(said.split()) >= MIN_HELD_WORDS and f" {said} " in f" {wanted} ":
        return True
    return token_f1(said, (wanted,)) >= SAME_SENTENCE_F1


def first_quote(answer: str) -> str:
    """The first sentence an extractive answer quotes: the text before its first [n]."""
    match = _CITATION.search(answer)
    return answer[: match.start()].strip() if match else answer


def holds_gold_sentence(text: str, golds: tuple[str, ...]) -> bool:
    """Whether one of the text's sentences is (mostly) one of the gold answers' sentences."""
    wanted = gold_sentences(golds)
    return any(
        same_sentence(text[start:end], gold)
        for start, end in sentence_spans(text)
        for gold in wanted
    )
