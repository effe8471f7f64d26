"""Re-uploading a file into the same collection with replace=true: the same document gets
the new file and keeps the ids (and vectors) of its unchanged chunks; without replace,
today's behaviour (a second document) holds."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tests.helpers import upload, wait_ready
from tests.sources.test_folder_sync import PARAGRAPHS, manual


def _chunks(url: str, document_id: str) -> dict[str, int]:
    async def fetch() -> dict[str, int]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT id, text FROM chunks WHERE document_id = $1::uuid", document_id
            )
        finally:
            await conn.close()
        return {row["text"]: row["id"] for row in rows}

    return asyncio.run(fetch())


def _sql(url: str, query: str, *args: Any) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(query, *args)
        finally:
            await conn.close()

    asyncio.run(run())


def _replace(client, name: str, text: str, flag: str = "true", collection: str | None = None):
    fields = {"replace": (None, flag)}
    if collection:
        fields["collection"] = (None, collection)
    return client.post("/api/documents", files={"file": (name, text.encode()), **fields})


def test_replace_keeps_unchanged_chunks(client, settings):
    paragraphs = list(PARAGRAPHS)
    first = upload(client, "manual.md", manual(paragraphs))
    assert first.status_code == 202 and first.json()["replaced"] is False
    document_id = first.json()["document"]["id"]
    wait_ready(client, document_id)
    before = _chunks(settings.database_url, document_id)

    paragraphs[20] = "Paragraph 20 now says the boiler is drained every spring, not autumn."
    replaced = _replace(client, "manual.md", manual(paragraphs))
    assert replaced.status_code == 202, replaced.text
    assert replaced.json()["replaced"] is True
    assert replaced.json()["document"]["id"] == document_id  # the same document
    assert wait_ready(client, document_id)["status"] == "ready"
    after = _chunks(settings.database_url, document_id)
    kept = {text for text in after if before.get(text) == after[text]}
    assert len(kept) >= len(after) - 2 and len(kept) >= 3  # only the edited part is new
    assert any("drained every spring" in text for text in after)
    assert not any("Paragraph 20 of the manual" in text for text in after)
    documents = client.get("/api/documents").json()["documents"]
    assert [d["id"] for d in documents] == [document_id]  # no duplicate
    hits = client.get("/api/search", params={"q": "boiler drained every spring"}).json()
    assert hits["results"][0]["document_id"] == document_id

    again = _replace(client, "manual.md", manual(paragraphs))  # the same bytes: nothing to do
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_replace_without_a_document_of_that_name_is_a_plain_upload(client):
    response = _replace(client, "fresh.txt", "Otters play in the river.")
    assert response.status_code == 202 and response.json()["replaced"] is False
    wait_ready(client, response.json()["document"]["id"])
    # Another collection's document of the same name is not replaced either.
    other = _replace(client, "fresh.txt", "Otters sleep in holts.", collection="rivers")
    assert other.status_code == 202 and other.json()["replaced"] is False
    assert other.json()["document"]["id"] != response.json()["document"]["id"]


def test_without_replace_a_reupload_adds_a_second_document(client):
    first = upload(client, "notes.txt", "Beavers build dams.")
    wait_ready(client, first.json()["document"]["id"])
    second = upload(client, "notes.txt", "Beavers build lodges.")
    assert second.status_code == 202
    assert second.json()["document"]["id"] != first.json()["document"]["id"]
    assert len(client.get("/api/documents").json()["documents"]) == 2


def test_replace_refusals_in_words(client, settings):
    busy = upload(client, "busy.txt", "Herons wait in the shallows.")
    busy_id = busy.json()["document"]["id"]
    wait_ready(client, busy_id)
    other = upload(client, "other.txt", "Egrets are white herons.")
    wait_ready(client, other.json()["document"]["id"])

    bad = _replace(client, "busy.txt", "x", flag="maybe")
    assert bad.status_code == 400 and "replace is true or false" in bad.json()["error"]["message"]

    same_as_other = _replace(client, "busy.txt", "Egrets are white herons.")
    assert same_as_other.status_code == 409
    assert "exactly this content" in same_as_other.json()["error"]["message"]

    _sql(settings.database_url, "UPDATE documents SET status = 'processing' WHERE id = $1::uuid",
         busy_id)  # fmt: skip
    refused = _replace(client, "busy.txt", "Herons fly with their necks folded.")
    assert refused.status_code == 409 and "still being indexed" in refused.text
    document = client.get(f"/api/documents/{busy_id}").json()["document"]
    assert document["status"] == "processing"  # untouched by the refused replace
    assert len(client.get("/api/documents").json()["documents"]) == 2
