"""One parser per file format, and the dispatcher that picks one by media type.

Every parser returns a `Parsed`: plain text in which headings are written as Markdown
(`## Title`) so one chunker keeps heading paths for every format, plus the offsets at
which pages start (PDF) so chunks can cite their page.
"""

from __future__ import annotations

from app.ingest.formats.base import Parsed

__all__ = ["Parsed", "parse"]


def parse(data: bytes, media_type: str, source: str) -> Parsed:
    """Parse a stored file by its media type; IngestError when it cannot be read."""
    if media_type == "application/pdf":
        from app.ingest.formats import pdf

        return pdf.parse(data, source)
    if media_type == DOCX:
        from app.ingest.formats import docx

        return docx.parse(data, source)
    if media_type == "text/html":
        from app.ingest.formats import html

        return html.parse(data, source)
    from app.ingest.formats import text

    return text.parse(data, source, markdown=media_type == "text/markdown")


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
