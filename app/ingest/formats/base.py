"""What every format module declares, and what every parser returns."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import EmptyDocument, IngestError

# Titles that tools write by default and that name nothing: the file name says more.
_GENERIC_TITLE = re.compile(
    r"(untitled( document)?|document\d*|none|unknown|new document|presentation\d*"
    r"|microsoft (word|powerpoint) - .*|slide \d+|page \d+)",
    re.IGNORECASE,
)

# Pieces in which upload checks read a file, so none holds a whole upload in memory.
PIECE = 256 * 1024

__all__ = ["IngestError", "Parsed", "code_block", "join_pages", "not_heading", "report_pages"]

_LEADING_HASH = re.compile(r"^([ \t]*)#", re.MULTILINE)
_BACKTICKS = re.compile(r"`{3,}")

# Set by the parsing process (app/ingest/sandbox.py) while it parses one file: parsers with
# pages call report_pages after each, so a long document shows its progress.
on_pages: Callable[[int, int], None] | None = None


def report_pages(done: int, total: int) -> None:
    if on_pages is not None:
        on_pages(done, total)


@dataclass
class Parsed:
    text: str
    title: str | None = None
    # Offset in `text` at which page 1, 2, ... begins; empty for formats without pages.
    page_starts: list[int] = field(default_factory=list)
    markdown: bool = True  # headings are written as Markdown `#` lines
    # Pages (1-based) whose text was recognised from an image: their mean OCR confidence.
    ocr_pages: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.title is not None and (
            not self.title.strip() or _GENERIC_TITLE.fullmatch(self.title.strip())
        ):
            self.title = None  # the document is then named after its file


@dataclass(frozen=True)
class Format:
    """A file format: how it is recognised, checked at upload time and parsed.

    `check` reads the uploaded file from its path (in pieces, or only its head) and raises
    a 4xx AppError when it cannot be a document of this format; it returns the document's
    title when the part it read shows one (a Markdown H1), else None. `parse` runs in the
    worker on the stored bytes and raises IngestError when they cannot be read.
    """

    label: str  # what people call it: "PDF"
    media_type: str  # stored as documents.media_type
    suffixes: tuple[str, ...]  # file names it is recognised by, lower case with the dot
    check: Callable[[Path, str], str | None]
    parse: Callable[[bytes, str], Parsed]
    also_fetched_as: tuple[str, ...] = ()  # further Content-Types a URL may answer with
    # What a chunk's `page` counts when the parser returns page_starts ("page", "slide").
    pages: str | None = None


def not_heading(text: str) -> str:
    """Body text whose lines start with "#" ("# apt install", "#1 priority") escaped as
    Markdown ("\\#"), so the chunker never reads them as headings."""
    return _LEADING_HASH.sub(r"\1\\#", text)


def code_block(text: str) -> str:
    """Text fenced as a Markdown code block: the chunker reads no heading inside it."""
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}\n{text}\n{fence}"


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


def pieces(path: Path) -> Iterator[bytes]:
    """The file's bytes in PIECE-sized pieces."""
    with path.open("rb") as file:
        while piece := file.read(PIECE):
            yield piece


def head(path: Path, size: int) -> bytes:
    """The first `size` bytes of the file."""
    with path.open("rb") as file:
        return file.read(size)


def refuse_blank(path: Path, filename: str) -> None:
    """EmptyDocument when the file holds nothing but whitespace (read only as far as needed)."""
    if not any(piece.strip() for piece in pieces(path)):
        raise EmptyDocument(f"{filename!r} is empty")
