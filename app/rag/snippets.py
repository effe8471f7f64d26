"""A passage's snippet: the stretch of it that holds the most of the question's words.

Computed here rather than by PostgreSQL's ts_headline, which parsed every result's whole
text in the search's second round trip (2.5 ms of a 15 ms search at 100,000 chunks); the
question's terms are read and stemmed as the extractive answerer reads them.
"""

from __future__ import annotations

import re
import string

from app.llm.asks import read_question, stems

MAX_WORDS = 30
MAX_CHARS = 240  # a text without spaces (Chinese, a long URL) is one "word"
LEAD = 3  # words of context kept before the first match
_PUNCTUATION = string.punctuation + "“”‘’«»…–—"
# A passage's text starts with the headings above it (the page shows them as its place) and
# may hold Markdown: a snippet is its prose, without heading lines or bare markup tokens.
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_MARKUP = "#|-*`=_>"


def snippet(text: str, question: str, language: str = "english") -> str:
    """Up to MAX_WORDS words of `text` around the question's terms (its start when none
    occurs), on one line."""
    prose = [line for line in text.splitlines() if not _HEADING.match(line)]
    words = [w for w in " ".join(prose).split() if w.strip(_MARKUP)] or text.split()
    if len(words) > MAX_WORDS:
        start = _best_window(words, read_question(question, language).terms, language)
        words = words[start : start + MAX_WORDS]
    result = " ".join(words)
    return result if len(result) <= MAX_CHARS else result[:MAX_CHARS].rsplit(" ", 1)[0] + "…"


def _best_window(words: list[str], terms: frozenset[str], language: str) -> int:
    """Where the MAX_WORDS-word window holding the most distinct terms (then the most
    matches) starts, a few words before its first match; 0 when no word matches."""
    if not terms:
        return 0
    forms = [w.lower().strip(_PUNCTUATION) for w in words]
    unique = list(set(forms))
    wanted = {f for f, stem in zip(unique, stems(unique, language), strict=True) if stem in terms}
    if not wanted:
        return 0
    stem_of = dict(zip(wanted, stems(list(wanted), language), strict=True))
    hits = [(i, stem_of[f]) for i, f in enumerate(forms) if f in wanted]
    # Windows that start at a match: the best holds the most distinct terms, then matches.
    best, best_first = (0, 0), hits[0][0]
    for n, (first, _) in enumerate(hits):
        inside = [term for i, term in hits[n:] if i < first + MAX_WORDS]
        score = (len(set(inside)), len(inside))
        if score > best:
            best, best_first = score, first
    return max(0, min(best_first - LEAD, len(words) - MAX_WORDS))
