"""Plain text and Markdown: UTF-8 (with or without BOM), never binary."""

from __future__ import annotations

import codecs

from app.errors import BadRequest, Unprocessable
from app.ingest.formats.base import Parsed
from app.text.markdown import first_h1


def decode(data: bytes, filename: str) -> str:
    """Decode UTF-8 (with or without BOM); refuse empty and binary content."""
    if not data.strip():
        raise BadRequest(f"{filename!r} is empty", code="empty_file")
    if b"\x00" in data[:8192]:
        raise Unprocessable(f"{filename!r} looks like binary data, not text", code="not_text")
    try:
        text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unprocessable(
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
