"""A small sentence splitter that keeps character offsets (used by chunking and answers)."""

from __future__ import annotations

import re

# A sentence ends at . ! or ? (optionally closed by quotes or brackets) followed by
# whitespace; a line break that ends a list item or heading also ends a sentence.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
# Common abbreviations that end with a period but do not end a sentence.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "Mr.", "Mrs.", "Dr.", "Fig.", "cf.", "No.")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the non-blank sentences of text[start:end]."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    begin = start
    for match in _BOUNDARY.finditer(text, start, end):
        before = text[begin : match.start()]
        if match.group().strip() == "" and "\n" not in match.group():
            if before.endswith(_ABBREVIATIONS):
                continue
        _append(text, spans, begin, match.start())
        begin = match.end()
    _append(text, spans, begin, end)
    return spans


def _append(text: str, spans: list[tuple[int, int]], start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + lead + len(stripped)))
