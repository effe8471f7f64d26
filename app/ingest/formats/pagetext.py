"""Cleaning the text of paged documents: running headers and footers, line-end hyphens.

A manual printed from groff or LaTeX repeats "BASH(1) General Commands Manual BASH(1)"
and "GNU Bash 5.2 2022 September 19 56" on every page; indexed, they become passages that
match every query about bash and get quoted as answers. They are found as lines near the
top or bottom of a page that recur (numbers aside) on many pages, and dropped: the page
number itself is not lost, each chunk keeps its page.
"""

from __future__ import annotations

import re
from collections import Counter

# How many lines at each end of a page may be furniture.
EDGE_LINES = 3
# A line is furniture when it recurs on this share of pages (odd and even pages of a book
# often carry different headers, so each is on about half) and on at least MIN_PAGES.
SHARE = 0.4
MIN_PAGES = 3
# Headers and footers are short: a longer line that recurs is body text (a form's repeated
# paragraph, a generated report), and dropping it could leave a page with nothing.
MAX_CHARS = 120
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
# A word broken at a line end: "in-\nvocation". The part after must start in lower case,
# so "Smith-\nJones" and a list item "-\nA" are left alone.
_BROKEN = re.compile(r"(\w+)-\n[ \t]*([a-z]\w*)")
_WORD = re.compile(r"\w+(?:-\w+)*")


def _key(line: str) -> str:
    """A line with its numbers blanked, so "Page 3" and "Page 4" count as one."""
    return _DIGITS.sub("#", _SPACE.sub(" ", line).strip().lower())


def _edges(lines: list[str]) -> list[int]:
    """Indexes of the non-blank lines within EDGE_LINES of either end of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def drop_furniture(pages: list[str]) -> list[str]:
    """The pages without the header and footer lines they share with many other pages."""
    if len(pages) < MIN_PAGES:
        return pages
    split = [page.split("\n") for page in pages]
    seen: Counter[str] = Counter()
    for lines in split:
        seen.update({_key(lines[i]) for i in _edges(lines)})
    least = max(MIN_PAGES, SHARE * len(pages))
    furniture = {
        key
        for key, count in seen.items()
        if count >= least and key.strip("# ") and len(key) <= MAX_CHARS
    }
    if not furniture:
        return pages
    cleaned = []
    for lines in split:
        drop = {i for i in _edges(lines) if _key(lines[i]) in furniture}
        cleaned.append("\n".join(line for i, line in enumerate(lines) if i not in drop).strip())
    return cleaned


def join_hyphens(pages: list[str]) -> list[str]:
    """Join words hyphenated at a line end ("in-\\nvocation" -> "invocation").

    A compound that the document also writes with its hyphen elsewhere ("command-line")
    keeps it; every other break is joined, as typesetters hyphenate only to fit a line.
    """
    hyphenated = {word.lower() for page in pages for word in _WORD.findall(page) if "-" in word}

    def join(match: re.Match[str]) -> str:
        head, tail = match.group(1), match.group(2)
        if f"{head}-{tail}".lower() in hyphenated:
            return f"{head}-{tail}"
        return head + tail

    return [_BROKEN.sub(join, page) for page in pages]
