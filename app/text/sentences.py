"""A small sentence splitter that keeps character offsets (used by chunking and answers)."""

from __future__ import annotations

import re

# A sentence ends at . ! or ? (optionally closed by quotes or brackets) followed by
# whitespace, and at a blank line. A single line break is only wrapping, unless it ends a
# heading or table row or starts a list item, heading, quote or table row.
_BOUNDARY = re.compile(r"(?P<stop>(?<=[.!?])[\"')\]]*\s+)|(?P<newline>\n\s*)")
_BLOCK_START = re.compile(r"(?:[-*+>|#]|\d+[.)])\s")
_LIST_NUMBER = re.compile(r"\d+[.)]")
_LIST_NUMBER_MAX = 32
# Common abbreviations that end with a period but do not end a sentence.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "Mr.", "Mrs.", "Dr.", "Fig.", "cf.", "No.")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the non-blank sentences of text[start:end]."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    begin = start
    for match in _BOUNDARY.finditer(text, start, end):
        gap = match.group()
        if match.group("stop") is not None:
            # Not a copy of the text since `begin`: after many abbreviations in a row
            # ("e.g. e.g. ...") that copy made the split quadratic.
            if "\n" not in gap and (
                text.endswith(_ABBREVIATIONS, begin, match.start())
                or _is_list_number(text, begin, match.start())
            ):
                continue
        elif gap.count("\n") == 1 and not _line_break_ends(text, match.start(), match.end()):
            continue
        _append(text, spans, begin, match.start())
        begin = match.end()
    _append(text, spans, begin, end)
    return spans


def _is_list_number(text: str, start: int, end: int) -> bool:
    # A list number is short: a longer run is never one, and is not copied to be checked.
    return end - start <= _LIST_NUMBER_MAX and bool(_LIST_NUMBER.fullmatch(text[start:end].strip()))


def _line_break_ends(text: str, newline: int, next_line: int) -> bool:
    line = text[text.rfind("\n", 0, newline) + 1 : newline].lstrip()
    return line.startswith(("#", "|")) or bool(_BLOCK_START.match(text, next_line))


def _append(text: str, spans: list[tuple[int, int]], start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + lead + len(stripped)))
