"""Documents the tests generate: PDFs (reportlab, pypdf), DOCX (python-docx), PPTX
(python-pptx), HTML."""

from __future__ import annotations

import io
import zipfile

import docx
import pptx
from pptx.util import Inches
from pypdf import PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas


def pdf(pages: list[str], *, title: str | None = None) -> bytes:
    """A PDF with one page per string (each line drawn as a text line)."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    if title:
        page.setTitle(title)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            page.drawString(72, y, line)
            y -= 14
        page.showPage()
    page.save()
    return buffer.getvalue()


def encrypted_pdf(text: str, password: str = "s3cret") -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf([text])))
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def image_only_pdf() -> bytes:
    """Pages with drawings and no text, like a scan."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for _ in range(2):
        page.rect(100, 100, 300, 300, fill=1)
        page.showPage()
    page.save()
    return buffer.getvalue()


def docx_file(title: str, sections: dict[str, str]) -> bytes:
    document = docx.Document()
    document.add_heading(title, 0)
    for heading, body in sections.items():
        document.add_heading(heading, 1)
        document.add_paragraph(body)
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Panel type"
    table.cell(0, 1).text = "Monocrystalline"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_bomb(expanded_mb: int = 1024) -> bytes:
    """A valid-looking DOCX whose document.xml inflates to `expanded_mb` megabytes.

    Written in one streamed entry so the test itself never holds the expanded bytes.
    """
    buffer = io.BytesIO()
    piece = b"<w:t>" + b"A" * (1024 * 1024 - 12) + b"</w:t>\n"
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as entry:
            for _ in range(expanded_mb):
                entry.write(piece)
    return buffer.getvalue()


def html_page(body: str, *, title: str = "Solar page", script_bytes: int = 0) -> bytes:
    script = "var x = 'ignore me';\n" * (script_bytes // 21)
    return f"""<!doctype html><html><head><title>{title}</title>
<style>body {{ color: red; }}</style><script>{script}</script></head>
<body><nav><a href="/">Home</a> <a href="/menu">Navigation menu</a></nav>
<main>{body}</main><footer>Copyright footer text</footer></body></html>""".encode()


def pptx_file(
    slides: list[tuple[str | None, str]], *, title: str | None = None, notes: str = ""
) -> bytes:
    """A presentation with one slide per (title, body); a None title makes a slide without
    one; every body line a paragraph of its own text box. `notes` go on the last slide."""
    presentation = pptx.Presentation()
    if title:
        presentation.core_properties.title = title
    for heading, body in slides:
        if heading is None:
            slide = presentation.slides.add_slide(presentation.slide_layouts[6])  # blank
            box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(8), Inches(4))
            frame = box.text_frame
        else:
            slide = presentation.slides.add_slide(presentation.slide_layouts[1])
            slide.shapes.title.text = heading
            frame = slide.placeholders[1].text_frame
        frame.text = body
    if notes:
        slide.notes_slide.notes_text_frame.text = notes
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODS = "application/vnd.oasis.opendocument.spreadsheet"


def workbook(sheets: dict[str, list[list[object]]], *, merge: dict[str, str] | None = None):
    """An openpyxl workbook with one sheet per name, rows appended; `merge` maps a sheet
    to a range of cells merged in it ("B1:C1")."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if merge and name in merge:
            sheet.merge_cells(merge[name])
    return book


def xlsx(sheets: dict[str, list[list[object]]], *, merge: dict[str, str] | None = None,
         cached: dict[str, str] | None = None) -> bytes:  # fmt: skip
    """An XLSX file; `cached` gives formulas ("B2*2") the result Excel would have stored
    with them (openpyxl writes formulas without results)."""
    buffer = io.BytesIO()
    workbook(sheets, merge=merge).save(buffer)
    data = buffer.getvalue()
    if not cached:
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename.startswith("xl/worksheets/"):
                for formula, value in cached.items():
                    empty, filled = f"<f>{formula}</f><v></v>", f"<f>{formula}</f><v>{value}</v>"
                    body = body.replace(empty.encode(), filled.encode())
            target.writestr(info, body)
    return out.getvalue()


def ods(rows: list[list[str]], *, sheet: str = "Sheet1") -> bytes:
    """A minimal OpenDocument spreadsheet of string cells."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    body = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{cell}</text:p>'
            "</table:table-cell>"
            for cell in row
        )
        + "</table:table-row>"
        for row in rows
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns}><office:body>'
        f'<office:spreadsheet><table:table table:name="{sheet}">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" '
        f'manifest:media-type="{ODS}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", ODS, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()


def xlsx_with_sheet_xml(sheet_xml: bytes, shared_strings: bytes | None = None) -> bytes:
    """An XLSX whose first sheet's XML is `sheet_xml` (hostile extents, empty rows)."""
    buffer = io.BytesIO()
    workbook({"Data": [["a"]]}).save(buffer)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = sheet_xml
            target.writestr(info.filename, body)
        if shared_strings is not None:  # openpyxl wrote none: its one cell is inline
            target.writestr("xl/sharedStrings.xml", shared_strings)
    return out.getvalue()


def page_image(lines: list[str], *, dpi: int = 200, font_size: int = 14):
    """A page of text as a grey Pillow image: typeset by reportlab, rasterised by PDFium."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf_lines(lines, font_size=font_size))
    image = document[0].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    document.close()
    return image


def pdf_lines(lines: list[str], *, font_size: int = 14) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    page.setFont("Helvetica", font_size)
    y = 780
    for line in lines:
        page.drawString(72, y, line)
        y -= font_size * 1.6
    page.showPage()
    page.save()
    return buffer.getvalue()


def scanned_pdf(pages: list[list[str]], *, dpi: int = 200) -> bytes:
    """An image-only PDF, as a scanner makes: each page's text rasterised at `dpi`."""
    images = [page_image(lines, dpi=dpi) for lines in pages]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return buffer.getvalue()


def photo(lines: list[str], *, angle: float = 4.0, seed: int = 1) -> bytes:
    """A noisy, slightly turned photo of a page, as a JPEG."""
    import numpy as np
    from PIL import Image, ImageFilter

    image = page_image(lines, dpi=200)
    image = image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=235)
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    pixels = np.asarray(image, dtype=np.int16)
    pixels = pixels + np.random.default_rng(seed).normal(0, 15, pixels.shape).astype(np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


def many_page_scan(pages: int) -> bytes:
    """A small PDF of `pages` pages that all show one image and carry no text."""
    from reportlab.lib.utils import ImageReader

    image = ImageReader(page_image(["A scanned page."], dpi=50))
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for _ in range(pages):
        page.drawImage(image, 0, 0, width=595, height=842)
        page.showPage()
    page.save()
    return buffer.getvalue()
