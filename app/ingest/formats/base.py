"""What every format parser returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Titles that tools write by default and that name nothing: the file name says more.
_GENERIC_TITLE = re.compile(
    r"(untitled( document)?|document\d*|none|unknown|new document|presentation\d*"
    r"|microsoft (word|powerpoint) - .*|slide \d+|page \d+)",
    re.IGNORECASE,
)


class IngestError(Exception):
    """The document cannot be ingested as it is; retrying will not help."""


@dataclass
class Parsed:
    text: str
    title: str | None = None
    # Offset in `text` at which page 1, 2, ... begins; empty for formats without pages.
    page_starts: list[int] = field(default_factory=list)
    markdown: bool = True  # headings are written as Markdown `#` lines

    def __post_init__(self) -> None:
        if self.title is not None and (
            not self.title.strip() or _GENERIC_TITLE.fullmatch(self.title.strip())
        ):
            self.title = None  # the document is then named after its file


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
