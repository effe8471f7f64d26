"""End to end through upload, the worker and search: a scan is searchable on the right page
and marked as recognised; a spreadsheet row and an HTML table cell are found together with
their table's header (issue 24). Quoting a table row in an extractive answer is the
answerer's part (issue 20, item 3): it skips lines starting with "|" today."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest

from app.ingest.formats import ocr
from tests import files
from tests.helpers import ingest, upload, wait_ready


def _chunks(url: str, document_id: str) -> list[asyncpg.Record]:
    async def fetch() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(
                "SELECT id, page, text, ocr_confidence FROM chunks WHERE document_id = $1"
                " ORDER BY ordinal",
                document_id,
            )
        finally:
            await conn.close()

    return asyncio.run(fetch())


def _search(client, question: str) -> dict:
    return client.get("/api/search", params={"q": question}).json()["results"][0]


@pytest.mark.skipif(
    "eng" not in ocr.installed_languages() and not os.environ.get("CI"),
    reason=f"OCR language data missing: {ocr.INSTALL}",
)
def test_a_scan_is_found_on_its_page_and_marked_as_recognised(client, settings):
    data = files.scanned_pdf(
        [
            ["Eastmarch Water Board", "Annual report of the reservoir levels"],
            ["The northern dam holds", "fourteen million cubic metres of water"],
        ]
    )
    document = ingest(client, "scan.pdf", data)
    rows = _chunks(settings.database_url, document["id"])
    assert [row["page"] for row in rows] == [1, 2]
    assert all(row["ocr_confidence"] > 80 for row in rows)
    results = client.get("/api/search", params={"q": "northern dam cubic metres"}).json()
    assert results["results"][0]["page"] == 2
    passage = client.get(f"/api/passages/{rows[1]['id']}").json()["passage"]
    assert passage["ocr_confidence"] == pytest.approx(rows[1]["ocr_confidence"])
    assert passage["provenance"].startswith("text recognised from a scan (")
    typed = ingest(client, "typed.md", "# Notes\n\nTyped text, not a scan.")
    typed_rows = _chunks(settings.database_url, typed["id"])
    assert typed_rows[0]["ocr_confidence"] is None
    typed_passage = client.get(f"/api/passages/{typed_rows[0]['id']}").json()["passage"]
    assert typed_passage["provenance"] is None


def test_a_document_never_ends_ready_without_chunks(client):
    """An image-only PDF in which OCR finds nothing fails with a message instead."""
    response = upload(client, "blank.pdf", files.image_only_pdf())
    document = wait_ready(client, response.json()["document"]["id"])
    assert document["status"] == "failed"
    assert "OCR" in document["error"]


def test_a_spreadsheet_row_is_found_with_its_header(client):
    data = files.xlsx(
        {
            "Revenue": [
                ["Region", "Revenue", None],
                [None, 2021, 2022],
                ["Eastmarch", 1200, 1350],
                ["Westfall", 800, 950],
                ["Northwood", 400, 510],
            ],
            "Staff": [["Name", "Role"], ["Ann Berg", "Treasurer"]],
        },
        merge={"Revenue": "B1:C1"},
    )
    ingest(client, "accounts.xlsx", data)
    best = _search(client, "What was the Eastmarch revenue in 2022?")
    assert best["title"] == "accounts.xlsx"
    assert "| Region | Revenue 2021 | Revenue 2022 |\n| --- | --- | --- |" in best["text"]
    assert "| Eastmarch | 1200 | 1350 |" in best["text"]


def test_an_html_table_cell_is_found_with_its_header(client):
    body = (
        "<h2>Reservoirs</h2><table><tr><th>Reservoir</th><th>Capacity</th></tr>"
        "<tr><td>Kelda</td><td>14 million m3</td></tr>"
        "<tr><td>Brunn</td><td>3 million m3</td></tr></table>"
    )
    ingest(client, "reservoirs.html", files.html_page(body))
    best = _search(client, "What is the capacity of the Kelda reservoir?")
    assert "| Reservoir | Capacity |\n| --- | --- |\n| Kelda | 14 million m3 |" in best["text"]
