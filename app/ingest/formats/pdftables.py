"""Tables in PDF pages, found from where PDFium places runs of text, as Markdown tables.

A PDF has no tables, only text placed on a page. PDFium splits each line into runs where a
wide gap separates words (its "text rects"); a run of at least MIN_ROWS consecutive lines
that split into the same number (two or more) of runs, each column's runs sharing a left
edge, a right edge or a centre, is a table. Its lines in the page's text are replaced by a
Markdown table, so a figure stays next to its row's name and its column's header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.ingest.formats.table import markdown_table

MIN_ROWS = 3
ALIGN = 3.0  # points: how far the edges of one column's cells may stray
MAX_RECTS = 20_000  # a page with more runs than this is not searched for tables
_SPACES = re.compile(r"\s+")


@dataclass
class _Run:
    left: float
    right: float
    bottom: float
    top: float
    text: str


def _lines(textpage) -> list[list[_Run]]:
    """The page's runs of text grouped into lines, in PDFium's reading order."""
    lines: list[list[_Run]] = []
    count = textpage.count_rects()
    if count > MAX_RECTS:
        return []
    for index in range(count):
        left, bottom, right, top = textpage.get_rect(index)
        run = _Run(left, right, bottom, top, "")  # text read only for tables: it is slow
        last = lines[-1][-1] if lines else None
        middle = (bottom + top) / 2
        if last is not None and last.bottom <= middle <= last.top and left > last.left:
            lines[-1].append(run)
        else:
            lines.append([run])
    return lines


def _aligned(column: list[_Run]) -> bool:
    for edge in (lambda r: r.left, lambda r: r.right, lambda r: (r.left + r.right) / 2):
        values = [edge(run) for run in column]
        if max(values) - min(values) <= ALIGN:
            return True
    return False


def _tables(lines: list[list[_Run]]) -> list[list[list[_Run]]]:
    """Maximal runs of lines that form a table."""
    found: list[list[list[_Run]]] = []
    start = 0
    while start < len(lines):
        width = len(lines[start])
        end = start + 1
        if width >= 2:
            while end < len(lines) and len(lines[end]) == width:
                block = lines[start : end + 1]
                if not all(_aligned([line[c] for line in block]) for c in range(width)):
                    break
                end += 1
        if width >= 2 and end - start >= MIN_ROWS:
            found.append(lines[start:end])
            start = end
        else:
            start += 1
    return found


def with_tables(text: str, textpage) -> str:
    """The page's text with the lines of each table found replaced by a Markdown table."""
    tables = _tables(_lines(textpage))
    if not tables:
        return text
    for table in tables:
        for line in table:
            for run in line:
                bounded = textpage.get_text_bounded(run.left, run.bottom, run.right, run.top)
                run.text = _SPACES.sub(" ", bounded).strip()
    page_lines = text.split("\n")
    normal = [_SPACES.sub(" ", line).strip() for line in page_lines]
    at = 0
    for table in tables:
        wanted = [" ".join(run.text for run in line) for line in table]
        found = _find(normal, wanted, at)
        if found is None:
            continue  # PDFium's text and its runs disagree: leave the lines as they are
        if any(not run.text for line in table for run in line):
            continue
        first, end = found
        markdown = markdown_table([[run.text for run in line] for line in table])
        page_lines[first:end] = [f"\n{markdown}\n"]
        normal[first:end] = [markdown]
        at = first + 1
    return "\n".join(page_lines)


def _find(lines: list[str], wanted: list[str], start: int) -> tuple[int, int] | None:
    """Where the table's lines are in the page's text: from its first row to its last,
    holding exactly its words (PDFium's text may break a row whose cells sit far apart)."""
    words = sorted(" ".join(wanted).split())
    for first in range(start, len(lines)):
        if lines[first] != wanted[0]:
            continue
        for last in range(first + len(wanted) - 1, min(len(lines), first + 4 * len(wanted))):
            if (
                lines[last] == wanted[-1]
                and sorted(" ".join(lines[first : last + 1]).split()) == words
            ):
                return first, last + 1
    return None
