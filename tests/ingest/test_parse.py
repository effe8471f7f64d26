import pytest

from app.errors import EmptyDocument, IngestError, UnsupportedDocument
from app.ingest.parse import decode_text, media_type_for, title_for


def test_media_types():
    assert media_type_for("notes.TXT") == "text/plain"
    assert media_type_for("README.md") == "text/markdown"
    assert media_type_for("report.PDF") == "application/pdf"
    assert media_type_for("page.htm") == "text/html"
    with pytest.raises(UnsupportedDocument, match="sheet.xlsx"):
        media_type_for("sheet.xlsx")


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


def test_title_is_the_documents_own_else_file_name():
    assert title_for("Real Title", "x.md") == "Real Title"
    assert title_for(None, "dir/notes.txt") == "notes.txt"
