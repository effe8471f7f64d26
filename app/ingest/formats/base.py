"""What every format parser returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import IngestError

__all__ = ["IngestError", "Parsed", "join_pages"]


@dataclass
class Parsed:
    text: str
    title: str | None = None
    # Offset in `text` at which page 1, 2, ... begins; empty for formats without pages.
    page_starts: list[int] = field(default_factory=list)
    markdown: bool = True  # headings are written as Markdown `#` lines


def join_pages(pages: list[str]) -> tuple[str, list[int]]:
    """Join page texts with blank lines (so no paragraph spans two pages) and their offsets."""
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        parts.append(page)
        offset += len(page) + 2
    return "\n\n".join(parts), starts
