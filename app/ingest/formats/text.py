"""Plain text and Markdown: UTF-8 (with or without BOM), never binary."""

from __future__ import annotations

import codecs
import re

from app.errors import EmptyDocument, IngestError
from app.ingest.formats.base import Parsed

_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


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
    if markdown and (match := _H1.search(text)):
        title = match.group(1)[:200]
    return Parsed(text, title=title, markdown=markdown)
