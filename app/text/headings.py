"""Markdown ATX headings (`## Title ##`), read without a regular expression.

The pattern this replaces, `^#\\s+(.+?)\\s*#*\\s*$`, backtracked cubically on a heading
followed by a long run of spaces ("# a" + 3,000 spaces + "b" took two minutes); this
scans each character a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Iterator


def heading(line: str) -> tuple[int, str] | None:
    """(level, title) when `line` is an ATX heading of level 1 to 6, else None."""
    level = len(line) - len(line.lstrip("#"))
    if not 1 <= level <= 6 or len(line) == level or not line[level].isspace():
        return None
    title = line[level:].strip()
    # A closing run of #s goes when a space precedes it ("# C# #" keeps "C#").
    bare = title.rstrip("#")
    if bare != title and (not bare or bare[-1].isspace()):
        title = bare.rstrip() or title
    return (level, title) if title else None


def first_h1(text: str) -> str | None:
    """The title of the first level-1 heading of a Markdown text, if any."""
    for line in _lines_starting_with_hash(text):
        found = heading(line)
        if found and found[0] == 1:
            return found[1]
    return None


def _lines_starting_with_hash(text: str) -> Iterator[str]:
    start = 0 if text.startswith("#") else text.find("\n#")
    while start != -1:
        begin = start + (text[start] == "\n")
        end = text.find("\n", begin)
        yield text[begin:] if end == -1 else text[begin:end]
        start = -1 if end == -1 else text.find("\n#", end)
