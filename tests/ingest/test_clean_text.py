"""Regression tests: text came in noisy (issue 20): glued PDF words, running headers and
footers indexed on every page, line-end hyphens left in words, code read as headings."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from app.ingest.chunk import chunk_text
from app.ingest.formats import DOCX, parse
from app.ingest.formats.pagetext import drop_furniture, join_hyphens
from tests import files

PDF = "application/pdf"


def words(text: str) -> int:
    return len(text.split())


def manual(pages: list[list[str]]) -> bytes:
    """A PDF whose pages carry a running header and a numbered footer, like a manual."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for number, lines in enumerate(pages, 1):
        page.drawString(72, 810, "BASH(1) General Commands Manual BASH(1)")
        y = 770
        for line in lines:
            page.drawString(72, y, line)
            y -= 14
        page.drawString(72, 30, f"GNU Bash 5.2 2022 September 19 {number}")
        page.showPage()
    page.save()
    return buffer.getvalue()


def test_running_headers_and_footers_are_not_indexed_but_pages_are_kept():
    topics = ["history", "aliases", "prompts", "jobs", "signals"]
    bodies = [[f"Page {n} explains {topic}.", "A second line."] for n, topic in enumerate(topics)]
    parsed = parse(manual(bodies), PDF, "bash.pdf")
    assert "General Commands Manual" not in parsed.text
    assert "September" not in parsed.text
    chunks = chunk_text(parsed.text, words, 100, page_starts=parsed.page_starts)
    assert [(c.page, c.text.split()[1]) for c in chunks] == [(n + 1, str(n)) for n in range(5)]


def test_a_line_on_few_pages_is_not_furniture():
    pages = ["Intro\nalpha", "Intro\nbeta", "gamma\nend", "delta\nend", "omega"]
    # "Intro" and "end" each head or close 2 of 5 pages: below both the share and the minimum.
    assert drop_furniture(pages) == pages


def test_a_short_document_keeps_its_repeated_lines():
    assert drop_furniture(["Title\nOne", "Title\nTwo"]) == ["Title\nOne", "Title\nTwo"]


def test_line_end_hyphens_are_joined_unless_the_document_writes_the_compound():
    pages = ["the text of the last HIST-\nSIZE", "in-\nvocation of a command-\nline tool"]
    pages.append("use the command-line interface")
    assert join_hyphens(pages)[1] == "invocation of a command-line tool"
    # Upper case after the break is a name or a list, not a broken word.
    assert join_hyphens(pages)[0] == pages[0]


def test_a_hyphen_broken_word_in_a_pdf_reads_whole():
    lines = ["The text of the last commands is saved in the his-", "tory file at exit."]
    parsed = parse(files.pdf(["\n".join(lines)]), PDF, "h.pdf")
    assert "history file" in parsed.text


def test_words_placed_one_by_one_are_neither_glued_nor_split():
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    x = 72.0
    for word in "The history file is saved below under the limit".split():
        page.drawString(x, 700, word)  # no space characters: only the gaps separate words
        x += page.stringWidth(word, "Helvetica", 12) + 4
    page.showPage()
    page.save()
    parsed = parse(buffer.getvalue(), PDF, "placed.pdf")
    assert parsed.text == "The history file is saved below under the limit"


def test_a_comment_line_in_a_pdf_is_not_a_heading():
    parsed = parse(files.pdf(["# apt install -y nftables\nInstalls the firewall."]), PDF, "a.pdf")
    chunks = chunk_text(parsed.text, words, 100, markdown=parsed.markdown)
    assert [c.heading_path for c in chunks] == [[]]


def test_html_pre_is_a_code_block_and_never_a_heading():
    body = (
        "<h1>Firewall</h1><p>Install it:</p>"
        "<pre># apt install -y nftables\n\n# systemctl enable nftables\n</pre>"
        "<p># not a heading either</p><h2>Rules</h2><p>Text.</p>"
    )
    parsed = parse(files.html_page(body), "text/html", "fw.html")
    assert "```\n# apt install -y nftables\n# systemctl enable nftables\n```" in parsed.text
    chunks = chunk_text(parsed.text, words, 100, markdown=True)
    assert [c.heading_path for c in chunks] == [["Firewall"], ["Firewall", "Rules"]]


def test_html_pre_holding_backticks_gets_a_longer_fence():
    parsed = parse(files.html_page("<pre>```\n# x\n```</pre><p>After.</p>"), "text/html", "b.html")
    assert parsed.text.startswith("````\n```\n# x\n```\n````")
    chunks = chunk_text(parsed.text, words, 100, markdown=True)
    assert all(c.heading_path == [] for c in chunks)


def test_markdown_fenced_code_comments_are_not_headings():
    text = (
        "# Setup\n\nRun these:\n\n```sh\n# install the firewall\n\napt install nftables\n"
        "```\n\n## Next\n\nDone.\n\n~~~\n# still code\n~~~\n"
    )
    chunks = chunk_text(text, words, 6, markdown=True)
    assert {tuple(c.heading_path) for c in chunks} == {("Setup",), ("Setup", "Next")}
    assert any("# install the firewall" in c.text for c in chunks)


def test_an_unclosed_fence_keeps_the_rest_code():
    chunks = chunk_text("# A\n\n```\n\n# B\n\ntext", words, 100, markdown=True)
    assert [c.heading_path for c in chunks] == [["A"]]


def test_a_docx_paragraph_starting_with_a_hash_is_not_a_heading():
    import docx

    document = docx.Document()
    document.add_heading("Guide", 1)
    document.add_paragraph("# this is a shell comment")
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse(buffer.getvalue(), DOCX, "g.docx")
    chunks = chunk_text(parsed.text, words, 100, markdown=True)
    assert [c.heading_path for c in chunks] == [["Guide"]]


def test_a_long_line_repeated_on_every_page_is_body_text_not_furniture():
    # A generated report repeats its paragraph on every page, numbers aside: dropping it as a
    # running header left the document with no text at all.
    paragraph = " ".join(f"solar panels convert light into power ({n})." for n in range(10))
    pages = [f"Page {p}. {paragraph}" for p in range(6)]
    assert drop_furniture(pages) == pages
