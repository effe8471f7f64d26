import pytest

from app.errors import BadRequest, Unprocessable, UnsupportedMediaType
from app.ingest.parse import decode_text, media_type_for, title_for


def test_media_types():
    assert media_type_for("notes.TXT") == "text/plain"
    assert media_type_for("README.md") == "text/markdown"
    with pytest.raises(UnsupportedMediaType, match="report.pdf"):
        media_type_for("report.pdf")


def test_decode_strips_bom_and_normalises_newlines():
    assert decode_text(b"\xef\xbb\xbfone\r\ntwo\rthree", "a.txt") == "one\ntwo\nthree"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", BadRequest),
        (b" \n\t", BadRequest),
        (b"PK\x03\x04\x00\x00binary", Unprocessable),
        (b"caf\xe9 latin-1", Unprocessable),
    ],
)
def test_decode_refuses_empty_and_binary(data, error):
    with pytest.raises(error, match="a.txt"):
        decode_text(data, "a.txt")


def test_title_is_first_markdown_heading_else_file_name():
    assert title_for("intro\n# Real Title\n", "x.md", "text/markdown") == "Real Title"
    assert title_for("# Not a title in text", "notes.txt", "text/plain") == "notes.txt"
