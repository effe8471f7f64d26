from tests.helpers import SOLAR_GUIDE, ingest, row_counts, upload, wait_ready


def test_upload_is_ingested_into_chunks_and_listed(client):
    document = ingest(client, "solar.md", SOLAR_GUIDE)
    assert document["title"] == "Solar Panels Guide"
    assert document["chunk_count"] == 2
    listed = client.get("/api/documents").json()["documents"]
    assert [(d["id"], d["status"], d["chunk_count"]) for d in listed] == [
        (document["id"], "ready", 2)
    ]


def test_same_content_twice_answers_with_the_stored_document(client, settings):
    first = ingest(client, "solar.md", SOLAR_GUIDE)
    before = row_counts(settings.database_url)
    again = upload(client, "copy-of-solar.md", SOLAR_GUIDE)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["document"]["id"] == first["id"]
    assert row_counts(settings.database_url) == before


def test_delete_removes_document_and_chunks(client, settings):
    document = ingest(client, "solar.md", SOLAR_GUIDE)
    assert client.delete(f"/api/documents/{document['id']}").status_code == 204
    assert client.get(f"/api/documents/{document['id']}").status_code == 404
    counts = row_counts(settings.database_url)
    assert counts["documents"] == counts["chunks"] == counts["document_files"] == 0


def test_plain_text_upload(client):
    document = ingest(client, "notes.txt", "Line one about tea.\n\nLine two about coffee.")
    assert document["title"] == "notes.txt"
    assert document["media_type"] == "text/plain"
    assert wait_ready(client, document["id"])["chunk_count"] == 1
