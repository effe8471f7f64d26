"""PDF with PDFium (pypdfium2): the text of each page, so every chunk keeps its page number.

PDFium over pypdf and pdfminer.six, measured by bench/pdf_text.py on four real manuals
(bash, find, rsync, tar typeset by groff, 194 pages) against groff's own plain text:

| extractor | word error (raw) | word error (cleaned) | CPU ms a page |
| --- | --- | --- | --- |
| pypdf | 0.188 | 0.143 | 16.9 |
| pypdf, layout mode | 0.132 | 0.086 | 28.8 |
| pypdfium2 (with table detection) | 0.067 | 0.020 | 3.5 |
| pdfminer.six | 0.153 | 0.108 | 83.6 |

pypdf glues and splits words ("belowunder", "sa vedinthe") wherever a font kerns; PDFium
places characters by their boxes and marks line-end hyphens, and is five times faster.
It is native code: a file built to crash it kills only the sandbox's child, which reports
it and is replaced. Running headers and footers are dropped and line-end hyphens joined
(pagetext.py); a chunk's page number comes from its page, not from the footer. Tables are
found from where PDFium places runs of text (pdftables.py); pages
without a text layer are recognised by OCR (ocr.py) and marked as such.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.errors import IngestError
from app.ingest.formats import ocr
from app.ingest.formats.base import Format, Parsed, head, join_pages, report_pages
from app.ingest.formats.pagetext import drop_furniture, join_hyphens
from app.ingest.formats.pdftables import with_tables

# A page costs a few ms to read: a file of a hundred thousand pages (a few hundred kB when
# they share one content stream) would hold a parser for minutes.
MAX_PAGES = 5000
# Recognising a page takes about a second of CPU: a 2,000-page scan is a job for a batch
# OCR tool, not a parse that holds a worker for half an hour.
MAX_OCR_PAGES = 500
OCR_DPI = 300  # Tesseract's accuracy falls below ~200 dpi and gains nothing past 300
_WORD_CHARS = re.compile(r"\w")
_BLANKS = re.compile(r"[ \t\x00\xa0]+")
# Control characters PDFium passes through from broken fonts (kept: \t and \n).
_CONTROL = re.compile(r"[\x01-\x08\x0b-\x1f\x7f\ufffe\uffff]")


def parse(data: bytes, source: str) -> Parsed:
    # Imported here: the registry is read by every command.
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise IngestError(
                f"{source!r} is encrypted with a password; remove the password and upload it again"
            ) from None
        raise IngestError(f"{source!r} could not be read as a PDF ({exc})") from None
    try:
        if len(document) > MAX_PAGES:
            raise IngestError(
                f"{source!r} has {len(document)} pages; at most {MAX_PAGES} are read"
                " (split it into smaller files)"
            )
        pages = [_clean(text) for text in _page_texts(document, tables=True)]
        title = (document.get_metadata_dict().get("Title") or "").strip() or None
        scanned = [i for i, page in enumerate(pages) if len(_WORD_CHARS.findall(page)) < 20]
        confidences = _recognise(document, scanned, pages, source)
    except pdfium.PdfiumError as exc:
        raise IngestError(f"{source!r} could not be read as a PDF ({exc})") from None
    finally:
        document.close()
    if not any(page.strip() for page in pages):
        raise IngestError(f"{source!r} has no text, and OCR found none on its pages")
    # Scanned books have running heads and broken words too: OCR'd pages are cleaned alike.
    text, starts = join_pages(join_hyphens(drop_furniture(pages)))
    # No headings in a PDF's text: a "# comment" line in a manual is not one.
    return Parsed(
        text,
        title=title[:200] if title else None,
        page_starts=starts,
        markdown=False,
        ocr_pages={i + 1: confidence for i, confidence in confidences.items()},
    )


def _recognise(document, scanned: list[int], pages: list[str], source: str) -> dict[int, float]:
    """OCR the pages without a text layer, in place; their mean confidences by index.

    Without OCR installed, a PDF with some text keeps it; one without any fails with the
    command that installs OCR.
    """
    if not scanned:
        return {}
    if len(scanned) > MAX_OCR_PAGES:
        raise IngestError(
            f"{source!r} has {len(scanned)} scanned pages; at most {MAX_OCR_PAGES} are "
            "recognised (OCR) in one document (split it into smaller files)"
        )
    try:
        ocr.engine()
    except ocr.OcrUnavailable as exc:
        if any(pages[i].strip() for i in range(len(pages)) if i not in scanned):
            return {}
        raise IngestError(
            f"{source!r} is a scan (its pages have no text layer) and OCR is not available: {exc}"
        ) from None
    images = (_render(document[i]) for i in scanned)
    confidences = {}
    for i, found in zip(scanned, ocr.read_pages(images, len(scanned)), strict=True):
        if found.text:
            pages[i] = found.text
            confidences[i] = found.confidence
    return confidences


def _render(page):
    """A page as a grey image at OCR_DPI, fewer dots for a page too big to hold."""
    width, height = page.get_size()
    scale = min(OCR_DPI / 72, (ocr.MAX_PIXELS / max(width * height, 1)) ** 0.5)
    try:
        return page.render(scale=scale, grayscale=True).to_pil()
    finally:
        page.close()


def _page_texts(document, *, tables: bool = False) -> list[str]:
    """Each page's text, line breaks as newlines, line-end hyphens as "-\\n"; with
    `tables`, the lines of a table as a Markdown table (pdftables.py)."""
    texts = []
    for page in document:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_range()
            # PDFium marks a hyphen that ends a line as U+FFFE and joins the two lines.
            text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffe", "-\n")
            if tables:
                text = with_tables(text, textpage)
        finally:
            textpage.close()
            page.close()
        texts.append(text)
        report_pages(len(texts), len(document))
    return texts


def pdfium_pages(data: bytes) -> list[str]:
    """Every page's text as parse reads it, before cleaning (bench/pdf_text.py)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        return _page_texts(document, tables=True)
    finally:
        document.close()


def _clean(page: str) -> str:
    page = _CONTROL.sub("", page)
    return "\n".join(_BLANKS.sub(" ", line).strip() for line in page.splitlines()).strip()


def check(path: Path, filename: str) -> None:
    """The PDF header must be near the start (readers allow junk before it, up to 1 KB)."""
    if b"%PDF-" not in head(path, 1024):
        raise IngestError(
            f"{filename!r} is not a PDF file (it does not start with %PDF-)", code="not_pdf"
        )


FORMAT = Format(
    label="PDF",
    media_type="application/pdf",
    suffixes=(".pdf",),
    check=check,
    parse=parse,
    pages="page",
)
