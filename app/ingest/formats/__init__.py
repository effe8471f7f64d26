"""The file formats we ingest: one module per format, each declaring a `Format`.

Uploads, URL fetches, the `ingest` command, the upload form and the README's table all
read this registry, so a new format is one module plus its line in FORMATS.

Every parser returns a `Parsed`: plain text in which headings are written as Markdown
(`## Title`) so one chunker keeps heading paths for every format, plus the offsets at
which pages (PDF) or slides (PPTX) start so chunks can cite them.
"""

from __future__ import annotations

from pathlib import PurePath

from app.errors import UnsupportedDocument
from app.ingest.formats import delimited, docx, html, image, pdf, pptx, sheet, text
from app.ingest.formats.base import Format, IngestError, Parsed

__all__ = ["DOCX", "FORMATS", "Format", "IngestError", "Parsed", "parse"]

FORMATS: tuple[Format, ...] = (
    text.PLAIN,
    text.MARKDOWN,
    pdf.FORMAT,
    docx.FORMAT,
    html.FORMAT,
    pptx.FORMAT,
    sheet.XLSX,
    sheet.XLSM,
    sheet.ODS,
    delimited.CSV,
    delimited.TSV,
    image.PNG,
    image.JPEG,
    image.TIFF,
    image.WEBP,
)

DOCX = docx.MEDIA_TYPE
_BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}
_BY_MEDIA_TYPE = {f.media_type: f for f in FORMATS}
_BY_CONTENT_TYPE = {t: f for f in FORMATS for t in (f.media_type, *f.also_fetched_as)}
assert len(_BY_SUFFIX) == sum(len(f.suffixes) for f in FORMATS), "a suffix is claimed twice"


def suffixes() -> list[str]:
    """Every file name suffix we accept, in registry order (the upload form's accept list)."""
    return list(_BY_SUFFIX)


def for_filename(filename: str) -> Format:
    """The format a file name says, or UnsupportedDocument (415)."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in _BY_SUFFIX:
        accepted = ", ".join(sorted(_BY_SUFFIX))
        raise UnsupportedDocument(
            f"{filename!r} is not a supported file type; upload one of: {accepted}"
        )
    return _BY_SUFFIX[suffix]


def for_content_type(content_type: str) -> Format | None:
    """The format of a fetched body by its Content-Type (parameters ignored), or None."""
    return _BY_CONTENT_TYPE.get(content_type.split(";")[0].strip().lower())


def content_types() -> list[str]:
    """Every Content-Type a fetched URL may answer with."""
    return sorted(_BY_CONTENT_TYPE)


def parse(data: bytes, media_type: str, source: str) -> Parsed:
    """Parse a stored file by its media type; IngestError when it cannot be read."""
    fmt = _BY_MEDIA_TYPE.get(media_type)
    if fmt is None:  # stored before its format was removed
        raise IngestError(f"{source!r} is of a type we no longer read ({media_type})")
    return fmt.parse(data, source)


def markdown_table() -> str:
    """The README's table of formats, generated from FORMATS (tests keep the two equal)."""
    lines = [
        "| format | file names | media type (and URL Content-Types) | a result's `page` |",
        "| --- | --- | --- | --- |",
    ]
    for f in FORMATS:
        names = " ".join(f"`{s}`" for s in f.suffixes)
        types = ", ".join(f"`{t}`" for t in (f.media_type, *f.also_fetched_as))
        page = f"the {f.pages} number" if f.pages else "`null`"
        lines.append(f"| {f.label} | {names} | {types} | {page} |")
    return "\n".join(lines)
