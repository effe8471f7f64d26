"""Each format parser, on files the tests generate."""

import pytest

from app.ingest.chunk import chunk_text
from app.ingest.formats import DOCX, parse
from app.ingest.formats.base import IngestError
from tests import files


def words(text: str) -> int:
    return len(text.split())


def test_pdf_text_keeps_pages_and_chunks_cite_them():
    pages = [
        "Solar panels convert sunlight.\nThey last twenty-five years.",
        "Wind turbines need steady wind.",
        "Batteries store the surplus.",
    ]
    parsed = parse(files.pdf(pages, title="Energy notes"), "application/pdf", "energy.pdf")
    assert parsed.title == "Energy notes"
    assert len(parsed.page_starts) == 3
    chunks = chunk_text(parsed.text, words, 100, page_starts=parsed.page_starts)
    # Chunks never cross a page, so each cites exactly one page.
    assert [(c.page, c.text.split()[0]) for c in chunks] == [
        (1, "Solar"),
        (2, "Wind"),
        (3, "Batteries"),
    ]
    for chunk in chunks:
        assert parsed.text[chunk.char_start : chunk.char_end] == chunk.text


def test_docx_headings_become_the_heading_path():
    data = files.docx_file(
        "Energy Handbook",
        {"Solar": "Panels convert sunlight.", "Wind": "Turbines need steady wind."},
    )
    parsed = parse(data, DOCX, "handbook.docx")
    chunks = chunk_text(parsed.text, words, 100, markdown=parsed.markdown)
    assert [c.heading_path for c in chunks] == [
        ["Energy Handbook", "Solar"],
        ["Energy Handbook", "Wind"],
    ]
    assert "Panel type | Monocrystalline" in parsed.text  # tables are read too


def test_html_keeps_main_text_without_scripts_styles_or_navigation():
    body = (
        "<h1>Solar</h1><p>Panels convert <b>sunlight</b>.</p><ul><li>Clean twice a year</li></ul>"
    )
    parsed = parse(files.html_page(body, script_bytes=100_000), "text/html", "solar.html")
    assert parsed.title == "Solar page"
    assert parsed.text == "# Solar\n\nPanels convert sunlight.\n\nClean twice a year"
    for noise in ("ignore me", "color", "Navigation", "footer"):
        assert noise not in parsed.text


def test_markdown_title_and_plain_text():
    assert parse(b"# Title\n\nBody.", "text/markdown", "a.md").title == "Title"
    plain = parse(b"# not a heading in text", "text/plain", "a.txt")
    assert plain.title is None and plain.markdown is False


@pytest.mark.parametrize(
    ("data", "media_type", "words_in_error"),
    [
        (b"%PDF-1.7\n garbage that is no pdf", "application/pdf", "could not be read as a PDF"),
        (files.encrypted_pdf("Secret plans."), "application/pdf", "password"),
        (files.image_only_pdf(), "application/pdf", "OCR"),
        (files.docx_bomb(500), DOCX, "zip bomb"),
        (b"PK\x03\x04broken", DOCX, "not a valid DOCX"),
        (files.html_page("", script_bytes=200_000), "text/html", "no readable text"),
    ],
)
def test_unreadable_files_raise_ingest_errors_naming_the_file(data, media_type, words_in_error):
    with pytest.raises(IngestError, match=words_in_error) as caught:
        parse(data, media_type, "upload.bin")
    assert "upload.bin" in str(caught.value)


def test_overlap_repeats_the_last_sentences_within_a_section():
    text = " ".join(f"Sentence number {i} is here." for i in range(12))
    plain = chunk_text(text, words, 20)
    overlapped = chunk_text(text, words, 20, overlap_tokens=5)
    assert all(c.token_count <= 20 for c in overlapped)
    assert len(overlapped) > len(plain)
    for before, after in zip(overlapped, overlapped[1:], strict=False):
        assert after.char_start < before.char_end  # each chunk starts inside the previous
        assert after.char_end > before.char_end  # and still moves forward


def test_generic_metadata_titles_give_way_to_the_file_name():
    from app.ingest.formats.base import Parsed

    assert Parsed("text", title="untitled").title is None
    assert Parsed("text", title="Microsoft Word - draft.doc").title is None
    assert Parsed("text", title="  ").title is None
    assert Parsed("text", title="Solar Panels Guide").title == "Solar Panels Guide"


def test_an_html_title_written_with_markup_in_it_is_titled_by_its_text():
    # man2html's pages (Debian's socat.html) put tags inside <title>, which HTML never parses.
    page = b"<html><head><title><strong>socat</strong> &amp; friends</title></head>"
    page += b"<body><h1>socat</h1><p>Multipurpose relay.</p></body></html>"
    assert parse(page, "text/html", "socat.html").title == "socat & friends"
