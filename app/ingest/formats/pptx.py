"""PowerPoint (PPTX) with python-pptx: each slide's text, so every chunk keeps its slide.

A slide is read as a page: its title as a Markdown heading (`# Slide N` when it has none,
so a slide never inherits the heading of the one before), then the text of its shapes in
the file's order (groups opened, tables as Markdown tables), then its speaker notes. Slides start
at `page_starts`, exactly like PDF pages, so a chunk's `page` is its slide number. A PPTX
is a zip: its declared sizes are checked before python-pptx inflates anything.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from app.ingest.formats import ooxml
from app.ingest.formats.base import Format, IngestError, Parsed, join_pages, not_heading
from app.ingest.formats.table import markdown_table

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
_PART = "ppt/presentation.xml"


def parse(data: bytes, source: str) -> Parsed:
    ooxml.check_archive(io.BytesIO(data), source, kind="PPTX", part=_PART)
    import pptx

    try:
        presentation = pptx.Presentation(io.BytesIO(data))
        slides = [_slide(number, slide) for number, slide in enumerate(presentation.slides, 1)]
        title = presentation.core_properties.title or None
    except Exception as exc:  # python-pptx raises bare KeyError/ValueError on broken parts
        raise IngestError(f"{source!r} could not be read as a PPTX file ({exc})") from None
    if not any(slides):
        raise IngestError(f"{source!r} has no text on any slide")
    text, starts = join_pages(slides)
    return Parsed(text, title=title[:200] if title else None, page_starts=starts)


def _slide(number: int, slide: Any) -> str:
    """The slide's text with its title as a heading; empty when it has no text at all."""
    title_shape = slide.shapes.title
    title = _clean(title_shape.text_frame.text) if title_shape is not None else ""
    blocks = [
        block
        for shape in slide.shapes
        if title_shape is None or shape != title_shape
        for block in _blocks(shape)
    ]
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        notes = slide.notes_slide.notes_text_frame.text.strip()
        if notes:
            blocks.append(notes)
    if not title and not blocks:
        return ""
    return "\n\n".join([f"# {title or f'Slide {number}'}", *blocks])


def _blocks(shape: Any) -> Iterator[str]:
    from pptx.shapes.group import GroupShape

    if isinstance(shape, GroupShape):
        for inner in shape.shapes:
            yield from _blocks(inner)
    elif shape.has_text_frame:
        lines = [_clean(p.text) for p in shape.text_frame.paragraphs]
        if text := "\n".join(line for line in lines if line):
            yield not_heading(text)
    elif shape.has_table:
        if text := markdown_table([[c.text for c in row.cells] for row in shape.table.rows]):
            yield text


def _clean(text: str) -> str:
    # A line break inside a paragraph arrives as a vertical tab.
    return " ".join(text.replace("\v", " ").split())


FORMAT = Format(
    label="PowerPoint (PPTX)",
    media_type=MEDIA_TYPE,
    suffixes=(".pptx",),
    check=ooxml.upload_check("PPTX", _PART, "not_pptx"),
    parse=parse,
    pages="slide",
)
