"""Hostile files, built by the tests: each must fail its own document, with a message."""

from __future__ import annotations

import io
import zipfile

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF with these objects (1 is the catalog) and a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def pdf_many_pages(pages: int, ops: int = 1) -> bytes:
    """`pages` pages that all draw the same content stream (`ops` text runs): small file,
    endless work."""
    content = b"BT /F1 12 Tf 72 700 Td " + b"(a page of text that repeats) Tj " * ops + b"ET"
    first_page = 5
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R"
    page += b" /Resources << /Font << /F1 4 0 R >> >> >>"
    objects += [page] * pages
    return _pdf(objects)


def pdf_deep_nesting(depth: int = 100_000) -> bytes:
    """A page whose /Contents is an array nested `depth` deep: a recursive reader's end."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents "
        + b"[" * depth
        + b"]" * depth
        + b" >>",
    ]
    return _pdf(objects)


def pdf_huge_page_tree(count: int = 10**9) -> bytes:
    """A page tree that claims a billion pages."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 2 0 R] /Count %d >>" % count,  # its own child
    ]
    return _pdf(objects)


def docx_inflating(paragraphs: int, *, text: bool = True) -> bytes:
    """A valid-looking DOCX whose XML is large but compresses like text (no ratio alarm).

    Without text, each paragraph is a bare element: millions of them make lxml's tree
    far larger than the file.
    """
    if text:
        body = "".join(
            f"<w:p><w:r><w:t>paragraph {i} of a document that is mostly markup {i * 7919}"
            "</w:t></w:r></w:p>"
            for i in range(paragraphs)
        )
    else:
        body = "".join(f'<w:p w:rsidR="{i * 2654435761 % 2**32:08X}"/>' for i in range(paragraphs))
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    document = f'<w:document xmlns:w="{ns}"><w:body>{body}</w:body></w:document>'
    return docx_archive(document.encode(), zipfile.ZIP_DEFLATED)


def docx_archive(document: bytes, compression: int = zipfile.ZIP_STORED) -> bytes:
    """The smallest DOCX package around a word/document.xml."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def pptx_with_slide(shapes: bytes) -> bytes:
    """A one-slide deck made by python-pptx whose slide holds `shapes` as its shape tree."""
    import pptx

    deck = io.BytesIO()
    presentation = pptx.Presentation()
    presentation.slides.add_slide(presentation.slide_layouts[6])
    presentation.save(deck)
    ns = "http://schemas.openxmlformats.org/"
    slide = (
        (
            f'<p:sld xmlns:a="{ns}drawingml/2006/main" xmlns:p="{ns}presentationml/2006/main">'
            "<p:cSld><p:spTree><p:nvGrpSpPr/><p:grpSpPr/>"
        ).encode()
        + shapes
        + b"</p:spTree></p:cSld></p:sld>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(deck) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = slide if item.filename == "ppt/slides/slide1.xml" else source.read(item)
            target.writestr(item, data)
    return out.getvalue()


def nested_html(depth: int = 100_000) -> bytes:
    return b"<html><body>" + b"<div>" * depth + b"deep" + b"</div>" * depth + b"</body></html>"


def long_line_text(mb: int = 50) -> bytes:
    return b"word " * (mb * 1024 * 1024 // 5)


def invalid_utf16() -> bytes:
    """A UTF-16 byte order mark, then a lone surrogate: not UTF-8, not valid UTF-16 either."""
    return b"\xff\xfeh\x00i\x00\x00\xd8"


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
