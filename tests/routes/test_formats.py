"""Every format end to end through upload and the worker; bad files fail alone."""

import asyncio

import asyncpg
import pytest

from tests import files
from tests.helpers import SOLAR_GUIDE, ingest, row_counts, upload, wait_ready


async def _chunk_rows(url: str, document_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(
            "SELECT ordinal, page, heading_path, text FROM chunks"
            " WHERE document_id = $1 ORDER BY ordinal",
            document_id,
        )
    finally:
        await conn.close()


def chunk_rows(url: str, document_id: str) -> list[asyncpg.Record]:
    return asyncio.run(_chunk_rows(url, document_id))


def test_pdf_chunks_keep_their_page_and_search_shows_it(client, settings):
    data = files.pdf(
        ["Solar panels convert sunlight.", "Wind turbines need steady wind."],
        title="Energy notes",
    )
    document = ingest(client, "energy.pdf", data)
    assert document["title"] == "Energy notes"
    assert document["media_type"] == "application/pdf"
    rows = chunk_rows(settings.database_url, document["id"])
    assert [(r["page"], r["text"]) for r in rows] == [
        (1, "Solar panels convert sunlight."),
        (2, "Wind turbines need steady wind."),
    ]
    results = client.get("/api/search", params={"q": "wind turbines"}).json()["results"]
    assert results[0]["page"] == 2


def test_docx_and_html_are_ingested_with_heading_paths(client, settings):
    docx_doc = ingest(
        client, "handbook.docx", files.docx_file("Handbook", {"Solar": "Panels face south."})
    )
    html_doc = ingest(
        client,
        "page.html",
        files.html_page("<h2>Wind</h2><p>Turbines need wind.</p>", script_bytes=50_000),
    )
    assert html_doc["title"] == "Solar page"
    docx_rows = chunk_rows(settings.database_url, docx_doc["id"])
    html_rows = chunk_rows(settings.database_url, html_doc["id"])
    assert docx_rows[0]["heading_path"] == ["Handbook", "Solar"]
    assert [(r["heading_path"], r["text"]) for r in html_rows] == [
        (["Wind"], "## Wind\n\nTurbines need wind.")
    ]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> trailing garbage", "PDF"),
        ("locked.pdf", files.encrypted_pdf("Secret plans."), "password"),
        ("scan.pdf", files.image_only_pdf(), "OCR"),
        ("scripts.html", files.html_page("", script_bytes=900_000), "no readable text"),
    ],
)
def test_unreadable_documents_fail_with_a_message_and_the_worker_goes_on(
    client, settings, name, content, words
):
    ingest(client, "solar.md", SOLAR_GUIDE)
    before = row_counts(settings.database_url)
    response = upload(client, name, content)
    assert response.status_code == 202, response.text
    failed = wait_ready(client, response.json()["document"]["id"])
    assert failed["status"] == "failed"
    assert words.lower() in failed["error"].lower() and name in failed["error"]
    # Only the failed document's own rows were added; what was stored is untouched.
    after = row_counts(settings.database_url)
    assert after == {**before, "documents": before["documents"] + 1,
                     "document_files": before["document_files"] + 1,
                     "jobs": before["jobs"] + 1}  # fmt: skip
    # The worker is still alive and ingests the next document.
    ingest(client, "notes.txt", "Tea grows on hills.")


def test_docx_zip_bomb_is_refused_before_it_is_expanded(client, settings):
    ingest(client, "solar.md", SOLAR_GUIDE)
    before = row_counts(settings.database_url)
    response = upload(client, "bomb.docx", files.docx_bomb(500))
    assert response.status_code == 422, response.text
    assert "zip bomb" in response.json()["error"]["message"]
    assert row_counts(settings.database_url) == before


def test_pptx_is_searchable_and_results_cite_the_slide(client, settings):
    data = files.pptx_file(
        [
            ("Solar", "Panels convert sunlight into electricity."),
            ("Wind", "Turbines need steady wind."),
            ("Storage", "Flywheels and batteries store the surplus."),
        ],
        title="Energy deck",
    )
    document = ingest(client, "energy.pptx", data)
    assert document["title"] == "Energy deck"
    assert document["media_type"] == (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    )
    rows = chunk_rows(settings.database_url, document["id"])
    assert [(r["page"], r["heading_path"]) for r in rows] == [
        (1, ["Solar"]),
        (2, ["Wind"]),
        (3, ["Storage"]),
    ]
    results = client.get("/api/search", params={"q": "flywheels"}).json()["results"]
    assert results[0]["document_id"] == document["id"]
    assert "Flywheels and batteries" in results[0]["text"]
    assert results[0]["page"] == 3


def test_the_upload_form_accepts_every_registered_format(client):
    from app.ingest import formats

    page = client.get("/").text
    accept = ",".join(s for f in formats.FORMATS for s in f.suffixes)
    assert f'accept="{accept}"' in page and ".pptx" in accept
    assert all(f.label in page for f in formats.FORMATS)
