"""DOCX with python-docx: paragraphs and tables (as Markdown tables) in order, Heading
styles as Markdown headings.

A DOCX is a zip: before python-docx inflates anything, the sizes its central directory
declares are checked (ooxml.check_archive), so a zip bomb is refused without being expanded.
"""

from __future__ import annotations

import io
import re

from app.ingest.formats import ooxml
from app.ingest.formats.base import Format, IngestError, Parsed, not_heading
from app.ingest.formats.table import markdown_table

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_HEADING_STYLE = re.compile(r"^(?:Heading|Überschrift|Titre)\s*(\d)$", re.IGNORECASE)
_PART = "word/document.xml"


def parse(data: bytes, source: str) -> Parsed:
    ooxml.check_archive(io.BytesIO(data), source, kind="DOCX", part=_PART)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        # Style names looked up once: `paragraph.style` resolves the default style through
        # XPath on every call (4 ms a paragraph; a long book took minutes).
        names = {style.style_id: style.name for style in document.styles}
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.append(_paragraph(block, names))
            elif isinstance(block, Table):
                lines.append(_table(block))
        title = document.core_properties.title or None
    except IngestError:
        raise
    except Exception as exc:  # python-docx raises bare KeyError/ValueError on broken parts
        raise IngestError(f"{source!r} could not be read as a DOCX file ({exc})") from None
    text = "\n\n".join(line for line in lines if line.strip())
    if not text.strip():
        raise IngestError(f"{source!r} has no text")
    return Parsed(text, title=title[:200] if title else None)


def _paragraph(paragraph, names: dict[str, str]) -> str:
    text = paragraph.text.strip()
    style_id = paragraph._p.style  # None: the default paragraph style, never a heading
    style = (names.get(style_id) or "") if style_id else ""
    if text and style == "Title":
        return f"# {text}"
    match = _HEADING_STYLE.match(style or "")
    if text and match:
        return "#" * min(int(match.group(1)) + 1, 6) + " " + text
    return not_heading(text)


def _table(table) -> str:
    """A Markdown table (a cell merged across columns is repeated in each, so a merged
    header still names every column); a one-column table is read as paragraphs."""
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    if max((len(row) for row in rows), default=0) < 2:
        return "\n\n".join(not_heading(row[0].strip()) for row in rows if row and row[0].strip())
    return markdown_table(rows)


FORMAT = Format(
    label="Word (DOCX)",
    media_type=MEDIA_TYPE,
    suffixes=(".docx",),
    check=ooxml.upload_check("DOCX", _PART, "not_docx"),
    parse=parse,
)
