"""The format registry: names to formats, upload-time checks, titles, the README's table."""

import re
from pathlib import Path

import pytest

from app.errors import EmptyDocument, IngestError, UnsupportedDocument
from app.ingest import formats
from app.ingest.accept import title_for
from app.ingest.formats.text import decode as decode_text

ROOT = Path(__file__).resolve().parents[2]


def media_type_for(filename: str) -> str:
    return formats.for_filename(filename).media_type


def test_media_types():
    assert media_type_for("notes.TXT") == "text/plain"
    assert media_type_for("README.md") == "text/markdown"
    assert media_type_for("report.PDF") == "application/pdf"
    assert media_type_for("page.htm") == "text/html"
    assert media_type_for("data.TSV") == "text/tab-separated-values"
    with pytest.raises(UnsupportedDocument, match="sheet.numbers"):
        media_type_for("sheet.numbers")


def test_decode_strips_bom_and_normalises_newlines():
    assert decode_text(b"\xef\xbb\xbfone\r\ntwo\rthree", "a.txt") == "one\ntwo\nthree"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyDocument),
        (b" \n\t", EmptyDocument),
        (b"PK\x03\x04\x00\x00binary", IngestError),
        (b"caf\xe9 latin-1", IngestError),
    ],
)
def test_decode_refuses_empty_and_binary(data, error):
    with pytest.raises(error, match="a.txt"):
        decode_text(data, "a.txt")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyDocument),
        (b" \n\t", EmptyDocument),
        (b"PK\x03\x04\x00\x00binary", IngestError),
        (b"caf\xe9 latin-1", IngestError),
    ],
)
def test_the_upload_check_refuses_what_decode_refuses(tmp_path, data, error):
    path = tmp_path / "upload"
    path.write_bytes(data)
    with pytest.raises(error, match="a.txt"):
        formats.for_filename("a.txt").check(path, "a.txt")


def test_the_upload_check_finds_bad_utf8_past_its_first_piece_and_at_a_piece_edge(tmp_path):
    # "é" is two bytes; the first lands on the last byte of the first piece.
    path = tmp_path / "upload"
    good = "a" * (256 * 1024 - 1) + "é" * 10
    path.write_bytes(good.encode())
    assert formats.for_filename("a.md").check(path, "a.md") is None
    path.write_bytes(good.encode() + b"x\xff")
    with pytest.raises(IngestError, match=f"offset {len(good.encode()) + 1}"):
        formats.for_filename("a.txt").check(path, "a.txt")


def test_the_upload_check_of_markdown_reads_its_title(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(b"\xef\xbb\xbfIntro\n\n# Solar Panels Guide\n\nText.")
    assert formats.for_filename("x.md").check(path, "x.md") == "Solar Panels Guide"
    assert formats.for_filename("x.txt").check(path, "x.txt") is None


def test_title_is_the_documents_own_else_file_name():
    assert title_for("Real Title", "x.md") == "Real Title"
    assert title_for(None, "dir/notes.txt") == "notes.txt"


def test_no_suffix_or_content_type_is_claimed_by_two_formats():
    suffixes = [s for f in formats.FORMATS for s in f.suffixes]
    types = [t for f in formats.FORMATS for t in (f.media_type, *f.also_fetched_as)]
    assert len(suffixes) == len(set(suffixes)) and len(types) == len(set(types))
    assert all(s == s.lower() and s.startswith(".") for s in suffixes)


def test_readme_formats_table_is_the_registrys():
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- formats:begin -->\n(.*?)\n<!-- formats:end -->", readme, re.S)
    assert found, "README.md lost its <!-- formats:begin --> ... <!-- formats:end --> markers"
    assert found.group(1) == formats.markdown_table(), (
        "README.md's formats table differs from the registry: run `python -m app formats`"
        " and paste its output between the markers"
    )
