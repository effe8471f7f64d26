"""Turn an uploaded file into text. Plain text and Markdown for now."""

from __future__ import annotations

import codecs
import re
from pathlib import PurePath

from app.errors import BadRequest, Unprocessable, UnsupportedMediaType

MEDIA_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown"}


class IngestError(Exception):
    """The document cannot be ingested as it is; retrying will not help."""


def media_type_for(filename: str) -> str:
    """The media type we store for a file name, or UnsupportedMediaType."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in MEDIA_TYPES:
        accepted = ", ".join(sorted(MEDIA_TYPES))
        raise UnsupportedMediaType(
            f"{filename!r} is not a supported file type; upload one of: {accepted}"
        )
    return MEDIA_TYPES[suffix]


def decode_text(data: bytes, filename: str) -> str:
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


def title_for(text: str, filename: str, media_type: str) -> str:
    """A Markdown document's first H1, else the file name."""
    if media_type == "text/markdown":
        match = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
        if match:
            return match.group(1)[:200]
    return PurePath(filename).name[:200]
