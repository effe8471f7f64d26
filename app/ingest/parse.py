"""Which files we accept, the checks made at upload time, and titles."""

from __future__ import annotations

from pathlib import PurePath

from app.errors import EmptyDocument, IngestError, UnsupportedDocument
from app.ingest.formats import DOCX
from app.ingest.formats.text import decode as decode_text

__all__ = ["IngestError", "check_upload", "decode_text", "media_type_for", "title_for"]

MEDIA_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".pdf": "application/pdf",
    ".docx": DOCX,
    ".html": "text/html",
    ".htm": "text/html",
}


def media_type_for(filename: str) -> str:
    """The media type we store for a file name, or UnsupportedDocument."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in MEDIA_TYPES:
        accepted = ", ".join(sorted(MEDIA_TYPES))
        raise UnsupportedDocument(
            f"{filename!r} is not a supported file type; upload one of: {accepted}"
        )
    return MEDIA_TYPES[suffix]


def check_upload(data: bytes, filename: str, media_type: str) -> None:
    """Cheap checks that answer 4xx at once; deeper problems fail the document in the worker."""
    if media_type in ("text/plain", "text/markdown"):
        decode_text(data, filename)
    elif media_type == "text/html":
        if not data.strip():
            raise EmptyDocument(f"{filename!r} is empty")
        if b"\x00" in data[:8192]:
            raise IngestError(f"{filename!r} looks like binary data, not HTML", code="not_html")
    elif media_type == "application/pdf":
        if b"%PDF-" not in data[:1024]:
            raise IngestError(
                f"{filename!r} is not a PDF file (it does not start with %PDF-)", code="not_pdf"
            )
    elif media_type == DOCX:
        from app.ingest.formats.docx import check_archive

        try:
            check_archive(data, filename)
        except IngestError as exc:
            raise IngestError(str(exc), code="not_docx") from None


def title_for(parsed_title: str | None, filename: str) -> str:
    """The document's own title (Markdown H1, PDF/DOCX metadata, HTML <title>), else the name."""
    return (parsed_title or PurePath(filename).name)[:200]
