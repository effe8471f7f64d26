"""The Markdown table grammar every table is stored in: written by app/ingest/formats/table.py,
read back by the chunker (a table is split by rows) and by the extractive answerer (a row is
quoted with its header, app/llm/tables.py). One grammar, so writer and readers agree."""

from __future__ import annotations

import re

# The row under the header: `| --- | :---: |`, spaces anywhere.
_SEPARATOR = re.compile(r"\|(?:\s*:?-{3,}:?\s*\|)+")
_PIPE = re.compile(r"(?<!\\)\|")


def is_separator(line: str) -> bool:
    return _SEPARATOR.fullmatch(line.strip()) is not None


def escaped(cell: str) -> str:
    """A cell's text as written inside a row: its backslashes and pipes escaped."""
    return cell.replace("\\", "\\\\").replace("|", "\\|")


def row_line(cells: list[str]) -> str:
    """One `| a | b |` line of already escaped cells."""
    return "| " + " | ".join(cells) + " |"


def cells(line: str) -> list[str]:
    """The cells of one `| a | b |` line, unescaped."""
    inner = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    return [c.strip().replace("\\|", "|").replace("\\\\", "\\") for c in _PIPE.split(inner)]
