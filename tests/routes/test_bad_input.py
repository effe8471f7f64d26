"""Bad input: a 4xx JSON error with a message a person can act on, and nothing stored changes."""

import pytest

from tests.helpers import SOLAR_GUIDE, ingest, row_counts, upload


@pytest.fixture
def stored(client, settings):
    """One ingested document and one conversation, and the row counts they make."""
    ingest(client, "solar.md", SOLAR_GUIDE)
    with client.stream("POST", "/api/chat", json={"question": "How efficient are panels?"}) as r:
        r.read()
    return row_counts(settings.database_url)


def assert_error(response, status: int, code: str | None = None, words: str = "") -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    assert words.lower() in error["message"].lower()
    if code:
        assert error["code"] == code


@pytest.mark.parametrize(
    ("name", "content", "status", "code", "words"),
    [
        ("empty.txt", b"", 400, "empty_file", "empty"),
        ("blank.md", b"\n\n   \n", 400, "empty_file", "empty"),
        ("sheet.numbers", b"PK\x03\x04 something", 415, "unsupported_media_type", ".md"),
        ("sheet.xlsx", b"PK\x03\x04 something", 422, "not_xlsx", "XLSX"),
        ("scan.png", b"GIF89a not a png", 422, "unprocessable", "PNG"),
        ("report.pdf", b"<html>not a pdf</html>", 422, "not_pdf", "%PDF-"),
        ("letter.docx", b"not a zip at all", 422, "not_docx", "DOCX"),
        ("page.html", b"<p>\x00\x01\x02</p>", 422, "not_html", "binary"),
        ("image.txt", bytes(range(256)) * 8, 422, "not_text", "binary"),
        ("latin1.txt", "café crème".encode("latin-1"), 422, "not_text", "UTF-8"),
        ("huge.txt", b"a" * (1024 * 1024 + 1), 413, "payload_too_large", "MAX_UPLOAD_MB"),
        ("much-too-huge.txt", b"a" * (3 * 1024 * 1024), 413, "payload_too_large", "1 MB"),
    ],
)
def test_bad_uploads(client, settings, stored, name, content, status, code, words):
    assert_error(upload(client, name, content), status, code, words)
    assert row_counts(settings.database_url) == stored
    # The upload was spooled to disk in pieces; nothing of it is left behind.
    assert list((settings.data_dir / "uploads").glob("*")) == []


def test_upload_without_file_field(client, settings, stored):
    response = client.post("/api/documents", files={"note": (None, "no file here")})
    assert_error(response, 400, "bad_request", "field named 'file'")
    plain = {"content-type": "text/plain"}
    response = client.post("/api/documents", content=b"text", headers=plain)
    assert_error(response, 415, "unsupported_media_type", "multipart")
    response = client.post("/api/documents", json={"text": "no url"})
    assert_error(response, 400, "bad_request", '{"url"')
    assert row_counts(settings.database_url) == stored


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"question": ""}, 400, "empty_question"),
        ({"question": "   "}, 400, "empty_question"),
        ({}, 400, "empty_question"),
        ({"question": 42}, 400, "empty_question"),
        (["question"], 400, "bad_request"),
        ({"question": "x" * 5000}, 400, "bad_request"),
        (
            {"question": "Hi?", "conversation_id": "00000000-0000-0000-0000-000000000000"},
            404,
            "unknown_conversation",
        ),
        ({"question": "Hi?", "conversation_id": "not-an-id"}, 404, "unknown_conversation"),
    ],
)
def test_bad_questions(client, settings, stored, body, status, code):
    assert_error(client.post("/api/chat", json=body), status, code)
    assert row_counts(settings.database_url) == stored


def test_malformed_json(client, settings, stored):
    response = client.post(
        "/api/chat",
        content=b'{"question": "unterminated',
        headers={"content-type": "application/json"},
    )
    assert_error(response, 400, "malformed_json", "not valid JSON")
    assert row_counts(settings.database_url) == stored


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/search?q=", 400, "query is empty"),
        ("/api/search?q=solar&k=0", 400, "k must be"),
        ("/api/search?q=solar&k=lots", 400, "k must be"),
        ("/api/documents/not-a-uuid", 404, "no document"),
        ("/api/documents/00000000-0000-0000-0000-000000000000", 404, "no document"),
        ("/api/nothing-here", 404, ""),
    ],
)
def test_bad_reads(client, settings, stored, path, status, words):
    assert_error(client.get(path), status, None, words)
    assert row_counts(settings.database_url) == stored


def test_html_pages_get_an_html_error(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Back to your documents" in response.text
