"""Tables written as Markdown tables, whatever format they came from.

A table flattened into a stream of cells cannot answer "what was Eastmarch's 2022
revenue?": the number is no longer next to its row's name and its column's header. Every
format writes its tables here, and the chunker splits a long one by rows with the header
row repeated (app/ingest/chunk.py), so a row is never read without its header.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence

from app.text.tables import escaped, is_separator, row_line

_SPACES = re.compile(r"\s+")
MAX_CELL_CHARS = 2000  # a cell longer than this is cut: a table row must fit a chunk


def cell_text(value: object) -> str:
    """A cell's value as a person reads it: 1350 not 1350.0, dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes" if value.second == 0 else "seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _cell(value: object) -> str:
    return escaped(_SPACES.sub(" ", cell_text(value)).strip()[:MAX_CELL_CHARS])


def markdown_table(rows: Sequence[Sequence[object]]) -> str:
    """The rows as a Markdown table, the first as its header; "" when every cell is empty.

    Columns and rows with no text at all are left out; short rows are padded.
    """
    grid = [[_cell(value) for value in row] for row in rows]
    grid = [row for row in grid if any(row)]
    if not grid:
        return ""
    width = max(len(row) for row in grid)
    keep = [c for c in range(width) if any(c < len(row) and row[c] for row in grid)]
    grid = [[row[c] if c < len(row) else "" for c in keep] for row in grid]
    lines = [row_line(grid[0]), row_line(["---"] * len(keep))]
    lines += [row_line(row) for row in grid[1:]]
    return "\n".join(lines)


def joined_header(upper: Sequence[object], lower: Sequence[object]) -> list[str]:
    """Two header rows as one: "Revenue" spanning "2021" and "2022" gives "Revenue 2021"
    and "Revenue 2022", so each column keeps a name that answers a question."""
    joined = []
    for c in range(max(len(upper), len(lower))):
        parts = [cell_text(row[c]).strip() for row in (upper, lower) if c < len(row)]
        joined.append(" ".join(dict.fromkeys(p for p in parts if p)))
    return joined


def is_table_start(paragraph: str) -> bool:
    """Whether a paragraph opens with a Markdown table header and its separator row."""
    if not paragraph.startswith("|"):
        return False
    lines = paragraph.split("\n", 2)
    return len(lines) >= 2 and is_separator(lines[1])
