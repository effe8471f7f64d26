"""Regression tests: a table in a DOCX, PPTX or HTML page was flattened into a stream of
cells ("Eastmarch | 1350" with no header), so no passage said which figure was which."""

from __future__ import annotations

import io

import docx
import pptx
from hypothesis import given, settings
from hypothesis import strategies as st
from pptx.util import Inches

from app.ingest.chunk import chunk_text
from app.ingest.formats import DOCX, parse
from app.ingest.formats.pptx import MEDIA_TYPE as PPTX
from app.ingest.formats.table import markdown_table
from tests import files

REVENUE = [["Region", "2021", "2022"], ["Eastmarch", "1,200", "1,350"], ["Westfall", "800", "950"]]
EXPECTED = (
    "| Region | 2021 | 2022 |\n| --- | --- | --- |\n"
    "| Eastmarch | 1,200 | 1,350 |\n| Westfall | 800 | 950 |"
)


def words(text: str) -> int:
    return len(text.split())


def test_a_docx_table_is_a_markdown_table_with_a_merged_header_in_every_column():
    document = docx.Document()
    document.add_heading("Results", 1)
    table = document.add_table(rows=4, cols=3)
    for r, row in enumerate([["Region", "Revenue", ""], *REVENUE[1:]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(0, 1).merge(table.cell(0, 2))
    table.cell(0, 1).text = "Revenue"
    buffer = io.BytesIO()
    document.save(buffer)
    text = parse(buffer.getvalue(), DOCX, "r.docx").text
    assert "| Region | Revenue | Revenue |\n| --- | --- | --- |\n| Eastmarch | 1,200 | 1,350 |" in (
        text
    )


def test_a_one_column_docx_table_reads_as_paragraphs():
    document = docx.Document()
    table = document.add_table(rows=2, cols=1)
    table.cell(0, 0).text = "A boxed note."
    table.cell(1, 0).text = "# Not a heading."
    buffer = io.BytesIO()
    document.save(buffer)
    assert parse(buffer.getvalue(), DOCX, "n.docx").text == "A boxed note.\n\n\\# Not a heading."


def test_a_pptx_table_is_a_markdown_table():
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "Revenue"
    shape = slide.shapes.add_table(3, 3, Inches(1), Inches(2), Inches(6), Inches(2))
    for r, row in enumerate(REVENUE):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    buffer = io.BytesIO()
    presentation.save(buffer)
    assert parse(buffer.getvalue(), PPTX, "r.pptx").text == f"# Revenue\n\n{EXPECTED}"


def test_an_html_table_with_a_spanning_header_is_one_markdown_table():
    body = (
        "<h2>Results</h2><table><thead><tr><th>Region</th><th colspan=2>Revenue</th></tr>"
        "<tr><th></th><th>2021</th><th>2022</th></tr></thead><tbody>"
        "<tr><td>Eastmarch</td><td>1,200</td><td>1,350</td></tr>"
        "<tr><td>West<b>fall</b></td><td>800</td><td>950</td></tr></tbody></table>"
    )
    parsed = parse(files.html_page(body), "text/html", "r.html")
    assert parsed.text == (
        "## Results\n\n| Region | Revenue 2021 | Revenue 2022 |\n| --- | --- | --- |\n"
        "| Eastmarch | 1,200 | 1,350 |\n| Westfall | 800 | 950 |"
    )


def test_a_layout_table_of_one_column_reads_as_text():
    body = "<table><tr><td><p>First block.</p></td></tr><tr><td>Second.</td></tr></table>"
    assert parse(files.html_page(body), "text/html", "l.html").text == "First block.\n\nSecond."


def test_a_long_html_table_is_chunked_by_rows_with_its_header_repeated():
    rows = "".join(f"<tr><td>Town {i}</td><td>{i}</td></tr>" for i in range(100))
    body = f"<h2>Towns</h2><p>Intro.</p><table><tr><th>Town</th><th>People</th></tr>{rows}</table>"
    parsed = parse(files.html_page(body), "text/html", "t.html")
    chunks = chunk_text(parsed.text, words, 50, markdown=True, overlap_tokens=8)
    table_chunks = [c for c in chunks if "| Town " in c.text]
    assert len(table_chunks) > 3
    for chunk in table_chunks:
        assert "| Town | People |\n| --- | --- |\n| Town " in chunk.text
        assert chunk.token_count <= 50
    lines = [line for c in table_chunks for line in c.text.split("\n")]
    rows_seen = [line for line in lines if line.startswith("| Town ") and line[7].isdigit()]
    assert rows_seen == [f"| Town {i} | {i} |" for i in range(100)]


def test_a_row_longer_than_a_chunk_is_split_into_words_and_nothing_is_lost():
    table = markdown_table([["Name", "Note"], ["Ann", "word " * 80], ["Bob", "short"]])
    chunks = chunk_text(table, words, 30)
    assert all(c.token_count <= 30 for c in chunks)
    assert "Bob" in chunks[-1].text
    assert sum(c.text.count("word") for c in chunks) == 80


def test_pipes_and_backslashes_in_cells_are_escaped():
    assert markdown_table([["a|b", "c\\"], ["1", "2"]]).split("\n")[0] == "| a\\|b | c\\\\ |"


def _pdf_table(rows: list[list[str]], *, before: str = "", after: str = "") -> bytes:
    """A PDF page with prose around a table whose number columns are right-aligned."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    y = 800
    if before:
        page.drawString(72, y, before)
        y -= 30
    for row in rows:
        page.drawString(72, y, row[0])
        for x, value in zip((290, 390), row[1:], strict=False):
            page.drawRightString(x, y, value)
        y -= 16
    if after:
        page.drawString(72, y - 14, after)
    page.showPage()
    page.save()
    return buffer.getvalue()


def test_a_pdf_table_becomes_a_markdown_table_between_its_paragraphs():
    data = _pdf_table(REVENUE, before="Revenue by region.", after="The figures are audited.")
    text = parse(data, "application/pdf", "r.pdf").text
    assert text == f"Revenue by region.\n\n{EXPECTED}\n\nThe figures are audited."


def test_pdf_prose_is_not_taken_for_a_table():
    lines = [
        "Solar panels convert sunlight into electricity with an efficiency",
        "of about twenty percent, and modern ones last twenty-five years",
        "or more when they are cleaned twice a year.",
    ]
    assert "|" not in parse(files.pdf(["\n".join(lines)]), "application/pdf", "p.pdf").text


def test_a_long_pdf_table_is_chunked_by_rows_with_its_header_repeated():
    rows = [["Town", "People", "Area"]] + [[f"Town {i}", str(i), str(2 * i)] for i in range(40)]
    parsed = parse(_pdf_table(rows), "application/pdf", "towns.pdf")
    chunks = chunk_text(parsed.text, words, 40, page_starts=parsed.page_starts)
    assert len(chunks) > 3
    assert all(c.text.startswith("| Town | People | Area |\n| --- | --- | --- |") for c in chunks)
    assert all(c.page == 1 for c in chunks)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.text("abc xyz", min_size=1, max_size=30), min_size=2, max_size=2),
        min_size=1,
        max_size=40,
    ),
    st.integers(8, 60),
)
def test_property_a_row_is_never_read_without_its_header(rows, window):
    table = markdown_table([["Name", "Value"], *rows])
    header = "| Name | Value |\n| --- | --- |"
    row_lines = set(table.split("\n")[2:])
    chunks = chunk_text(f"# T\n\nBefore.\n\n{table}\n\nAfter.", words, window, markdown=True)
    repeated = 2 * words(header) <= window  # else the header is not repeated: no room
    for chunk in chunks:
        # A row longer than the window is cut into runs of words; every whole row that a
        # chunk holds comes with the header.
        if repeated and any(line in row_lines for line in chunk.text.split("\n")):
            assert header in chunk.text, chunk.text
        assert chunk.token_count <= window
    # Nothing is lost: every word of the table is in some chunk.
    assert set(table.split()) <= {w for c in chunks for w in c.text.split()}
