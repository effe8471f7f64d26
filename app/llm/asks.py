"""What a question asks for, read without a model: its content terms, and the kind of answer
its wording expects (a number for "how many", a date for "when", a command for "which
command"). Sentences are scored for covering both, beside their vector similarity."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.llm.quotable import is_code
from app.text.bm25 import idf
from app.text.cjk import cjk_bigrams

_WORD = re.compile(r"[^\W_]+")
# Question words and glue: they say what kind of answer is wanted, not what it is about.
STOPWORDS = frozenset(
    """a an the of to in on at for and or but by with from as into about over under than then
    what how when where which who whom whose why is are was were be been being do does did can
    could should would will shall may might must has have had having it its this that these
    those there their they them he she his her him i me my we our you your not no any some
    much many more most less least often long far please tell say says said named called name
    used use one type kind""".split()
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
                     r"eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|"
                     r"billion|dozen|half)\b", re.I)  # fmt: skip
_YEAR = re.compile(r"\b(?:1[0-9]|20)\d\d\b|\bcentur(?:y|ies)\b|\b\d{1,2}(?:st|nd|rd|th)\b")
_MONTHS = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.I,
)
_PERCENT = re.compile(
    r"\d\s*%|\bper ?cent\b|\bpercentage\b|\bpor cento\b"
    r"|\b(?:half|a third|a quarter|two thirds|three quarters|majority|minority)\b",
    re.I,
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_COMMAND = re.compile(r"`[^`]+`|\b[a-z][\w.-]*\s+-{1,2}[a-z]|\b[a-z]+_[a-z_]+\b")


@dataclass(frozen=True)
class Asked:
    terms: frozenset[str]  # content words, stemmed
    kind: str  # percent, number, date, person, place, command, or "" (no particular kind)
    language: str = "english"  # the PostgreSQL configuration its terms were stemmed for


# bm25s's stopword lists by PostgreSQL text search configuration (app/text/language.py):
# a Portuguese question's "de", "que", "em" are not terms either.
_LISTS = {
    "danish": "DANISH", "dutch": "DUTCH", "french": "FRENCH", "german": "GERMAN",
    "italian": "ITALIAN", "norwegian": "NORWEGIAN", "portuguese": "PORTUGUESE",
    "russian": "RUSSIAN", "spanish": "SPANISH", "swedish": "SWEDISH", "turkish": "TURKISH",
}  # fmt: skip


# What the English patterns in _kind read, in other languages: the words that ask for a
# number, a date, a person or a place ("quantos", "cuándo", "wer"...). They are glue too
# (bm25s's lists lack most of them): a term the answer cannot be expected to hold.
QUESTION_WORDS = {
    "portuguese": {
        "percent": "que percentagem|que porcentagem|qual percentagem|qual porcentagem",
        "number": "quantos|quantas|quanto|quanta",
        "date": "quando|em que ano|que ano|qual ano|em que século",
        "person": "quem",
        "place": "onde|aonde",
    },
    "spanish": {
        "percent": "qué porcentaje|que porcentaje",
        "number": "cuántos|cuántas|cuánto|cuánta|cuantos|cuantas",
        "date": "cuándo|cuando|en qué año|qué año",
        "person": "quién|quiénes|quien",
        "place": "dónde|donde|adónde",
    },
    "french": {
        "percent": "quel pourcentage",
        "number": "combien",
        "date": "quand|en quelle année|quelle année",
        "person": "qui",
        "place": "où",
    },
    "german": {
        "percent": "wie viel prozent|wie viele prozent",
        "number": "wie viele|wie viel|wieviel|wieviele",
        "date": "wann|in welchem jahr",
        "person": "wer|wem|wen",
        "place": "wo|wohin|woher",
    },
    "italian": {
        "percent": "quale percentuale|che percentuale",
        "number": "quanti|quante|quanto|quanta",
        "date": "quando|in che anno|in quale anno",
        "person": "chi",
        "place": "dove",
    },
}  # fmt: skip
_ASKING = {
    language: [(kind, re.compile(rf"(?<!\w)(?:{words})(?!\w)")) for kind, words in table.items()]
    for language, table in QUESTION_WORDS.items()
}


@functools.cache
def stopwords(language: str = "english") -> frozenset[str]:
    """English glue words, and the language's own (`language`: a PostgreSQL configuration),
    with and without accents ("quê" is "que")."""
    asking = {w for words in QUESTION_WORDS.get(language, {}).values()
              for w in re.split(r"[| ]", words)}  # fmt: skip
    words = STOPWORDS | asking
    if language in _LISTS:
        import bm25s.stopwords  # (half a second to import: only for questions that need it)

        words |= frozenset(getattr(bm25s.stopwords, f"STOPWORDS_{_LISTS[language]}"))
    return frozenset(words | {_unaccented(w) for w in words})


def _unaccented(word: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", word) if not unicodedata.combining(ch))


# Cached: a search reads its question once per passage (app/rag/snippets.py), an answer once
# per part; an Asked is immutable.
@functools.lru_cache(maxsize=512)
def read_question(question: str, language: str = "english") -> Asked:
    lowered = question.lower()
    words = _words(lowered)
    glue = stopwords(language)
    terms = frozenset(stems([w for w in words if _unaccented(w) not in glue], language))
    return Asked(terms, _kind(lowered, language), language)


def _kind(q: str, language: str = "english") -> str:
    for kind, asking in _ASKING.get(language, ()):
        if asking.search(q):
            return kind
    if re.search(r"\b(?:what|which) (?:percent|percentage|proportion|share|fraction)\b|\bhow "
                 r"much of\b|\bwhat part of\b|\bper ?cent\b", q):  # fmt: skip
        return "percent"
    if re.search(r"\bhow (?:many|much|long|old|far|big|large|high|often)\b|\bwhat (?:number|"
                 r"amount)\b", q):  # fmt: skip
        return "number"
    if re.search(r"\bwhen\b|\bwhat (?:year|date|day|month|century|decade)\b|\bwhich (?:year|"
                 r"century)\b", q):  # fmt: skip
        return "date"
    if re.search(r"\b(?:which|what) (?:command|option|flag|variable|setting|file)\b", q):
        return "command"
    if re.search(r"^\W*who(?:m|se)?\b|\bwhich person\b", q):
        return "person"
    if re.search(r"^\W*where\b|\bwhat (?:country|city|region|place)\b", q):
        return "place"
    return ""


@functools.cache
def _snowball(language: str) -> Any:
    """PyStemmer's Snowball stemmer for a PostgreSQL configuration's language; None for
    `simple` (a language PostgreSQL has no configuration for: Polish, Japanese...)."""
    import Stemmer

    return Stemmer.Stemmer(language) if language in Stemmer.algorithms() else None


def stems(words: list[str], language: str = "english") -> list[str]:
    """The words stemmed for their language: "commands"/"command" in English,
    "consumo"/"consumia" in Portuguese (where English suffixes would join nothing); under
    `simple` as they are, as PostgreSQL indexes them there (the lexicon's rarity is looked up
    by these terms: English suffixes stripped from Polish words found no lexeme)."""
    stemmer = _snowball(language)
    return list(stemmer.stemWords(words)) if stemmer is not None else list(words)


def coverage(asked: Asked, text: str, weights: Mapping[str, float] | None = None) -> float:
    """The share of the question's content terms the text holds (1.0 when it has none), each
    term counting its weight when `weights` are given (its rarity: see `rarity`)."""
    return share(asked, held_terms(asked, text), weights)


def held_terms(asked: Asked, text: str) -> frozenset[str]:
    """The question's content terms the text holds."""
    return asked.terms & frozenset(stems(_words(text.lower()), asked.language))


def _words(text: str) -> list[str]:
    """The text's words as the index has them: a run of Chinese, Japanese or Korean as its
    character bigrams (app/text/cjk.py), not one "word" that no other text repeats."""
    return _WORD.findall(cjk_bigrams(text))


def share(asked: Asked, held: frozenset[str], weights: Mapping[str, float] | None = None) -> float:
    """coverage() of a text whose held_terms() are `held`."""
    if not asked.terms:
        return 1.0
    if weights is None:
        return len(held) / len(asked.terms)
    total = sum(weights.get(t, 0.0) for t in asked.terms)
    return sum(weights.get(t, 0.0) for t in held) / total if total else 1.0


def rarity(asked: Asked, held: Sequence[frozenset[str]]) -> dict[str, float]:
    """Each term's idf among texts whose held_terms() are `held` (a term none of them holds
    is the rarest): the weights when the collection's own are not at hand."""
    return {t: idf(len(held), sum(1 for h in held if t in h)) for t in asked.terms}


def fits_kind(asked: Asked, sentence: str) -> bool:
    """Does the sentence hold the kind of thing asked for (a number, a date, a name...)?"""
    if asked.kind == "percent":
        return bool(_PERCENT.search(sentence))
    if asked.kind == "number":
        return bool(_NUMBER.search(sentence))
    if asked.kind == "date":
        return bool(_YEAR.search(sentence) or _MONTHS.search(sentence))
    if asked.kind == "command":
        return bool(_COMMAND.search(sentence)) or is_code(sentence)
    if asked.kind in ("person", "place"):
        return bool(_CAPITALISED.search(sentence))
    return True
