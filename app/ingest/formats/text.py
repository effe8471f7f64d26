"""Plain text and Markdown: UTF-8 (with or without BOM), never binary."""

from __future__ import annotations

import codecs
from functools import partial
from pathlib import Path
from typing import NoReturn

from app.errors import EmptyDocument, IngestError
from app.ingest.formats.base import Format, Parsed, pieces
from app.text.headings import first_h1


def decode(data: bytes, filename: str) -> str:
    """Decode UTF-8 (with or without BOM); refuse empty and binary content."""
    if not data.strip():
        raise EmptyDocument(f"{filename!r} is empty")
    if b"\x00" in data[:8192]:
        raise IngestError(f"{filename!r} looks like binary data, not text", code="not_text")
    try:
        text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{filename!r} is not UTF-8 text (bad byte at offset {exc.start}); "
            "save it as UTF-8 and upload it again",
            code="not_text",
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse(data: bytes, source: str, *, markdown: bool) -> Parsed:
    text = decode(data, source)
    title = None
    if markdown and (h1 := first_h1(text)):
        title = h1[:200]
    return Parsed(text, title=title, markdown=markdown)


def check(path: Path, filename: str, *, markdown: bool) -> str | None:
    """What decode() refuses, found reading the file in pieces; a Markdown H1 near the top."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    seen = 0  # bytes fed to the decoder before this piece
    blank = True
    first = ""
    for piece in pieces(path):
        if seen == 0:
            if b"\x00" in piece[:8192]:
                raise IngestError(f"{filename!r} looks like binary data, not text", code="not_text")
            piece = piece.removeprefix(codecs.BOM_UTF8)
        blank = blank and not piece.strip()
        try:
            decoded = decoder.decode(piece)
        except UnicodeDecodeError as exc:
            _not_utf8(filename, seen - len(decoder.getstate()[0]) + exc.start)
        first = first or decoded
        seen += len(piece)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        _not_utf8(filename, seen - len(decoder.getstate()[0]) + exc.start)
    if blank:
        raise EmptyDocument(f"{filename!r} is empty")
    # The worker takes the title from the whole text; the first piece names it at once.
    h1 = first_h1(first) if markdown else None
    return h1[:200] if h1 else None


def _not_utf8(filename: str, offset: int) -> NoReturn:
    raise IngestError(
        f"{filename!r} is not UTF-8 text (bad byte at offset {offset}); "
        "save it as UTF-8 and upload it again",
        code="not_text",
    )


PLAIN = Format(
    label="Plain text",
    media_type="text/plain",
    suffixes=(".txt",),
    check=partial(check, markdown=False),
    parse=partial(parse, markdown=False),
)
MARKDOWN = Format(
    label="Markdown",
    media_type="text/markdown",
    suffixes=(".md", ".markdown"),
    check=partial(check, markdown=True),
    parse=partial(parse, markdown=True),
)
