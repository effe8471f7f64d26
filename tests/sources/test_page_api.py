"""What the documents page asks of the API beyond the basics: deleting a source while keeping
its documents, and finding the upload of a file name (the page then offers to replace it)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import upload, wait_ready
from tests.sources.test_changed_passages import _sync


def _source(client, roots: Path, files: dict[str, str]) -> dict:
    folder = roots / "shelf"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    added = client.post(
        "/api/sources", json={"kind": "folder", "name": "shelf", "path": str(folder)}
    )
    assert added.status_code == 201, added.text
    return _sync(client, added.json()["source"])


def _titles(client) -> list[str]:
    return sorted(d["source"] for d in client.get("/api/documents").json()["documents"])


def test_deleting_a_source_can_keep_its_documents(client, roots: Path):
    source = _source(client, roots, {"a.txt": "Alders grow by water.", "b.txt": "Beeches shade."})
    assert source["document_count"] == 2
    kept = client.delete(f"/api/sources/{source['id']}", params={"keep_documents": "true"})
    assert kept.status_code == 204, kept.text
    assert client.get("/api/sources").json()["sources"] == []
    assert _titles(client) == ["a.txt", "b.txt"]
    # Kept as uploads: searchable still, and deletable one by one like any upload.
    assert "Alders" in client.get("/api/search", params={"q": "alders"}).text


def test_keeping_documents_drops_copies_of_bytes_already_uploaded(client, roots: Path):
    document = upload(client, "mine.txt", "Alders grow by water.").json()["document"]
    assert wait_ready(client, document["id"])["status"] == "ready"
    source = _source(client, roots, {"a.txt": "Alders grow by water.", "c.txt": "Cedars."})
    response = client.delete(f"/api/sources/{source['id']}?keep_documents=true")
    assert response.status_code == 204, response.text
    # One copy per content among uploads: the synced copy of mine.txt goes, c.txt stays.
    assert _titles(client) == ["c.txt", "mine.txt"]


def test_deleting_a_source_by_default_deletes_its_documents(client, roots: Path):
    source = _source(client, roots, {"a.txt": "Alders grow by water."})
    assert client.delete(f"/api/sources/{source['id']}").status_code == 204
    assert _titles(client) == []


def test_a_bad_keep_documents_value_is_refused_and_deletes_nothing(client, roots: Path):
    source = _source(client, roots, {"a.txt": "Alders grow by water."})
    response = client.delete(f"/api/sources/{source['id']}?keep_documents=maybe")
    assert response.status_code == 400 and "true or false" in response.text
    assert [s["name"] for s in client.get("/api/sources").json()["sources"]] == ["shelf"]
    assert _titles(client) == ["a.txt"]


def test_uploaded_as_finds_only_the_upload_of_that_name_in_the_collection(client, roots: Path):
    for name, text, collection in (
        ("notes.txt", "Notes in default.", None),
        ("notes.txt", "Notes elsewhere.", "other"),
        ("old-notes.txt", "Not the same name.", None),
    ):
        response = upload(client, name, text, collection)
        assert response.status_code == 202, response.text
    _source(client, roots, {"notes.txt": "A synced item named the same."})

    def found(**params: str) -> list[tuple[str, str]]:
        documents = client.get("/api/documents", params=params).json()["documents"]
        return [(d["source"], d["collection"]) for d in documents]

    assert found(collection="default", uploaded_as="notes.txt") == [("notes.txt", "default")]
    assert found(collection="other", uploaded_as="notes.txt") == [("notes.txt", "other")]
    assert found(collection="default", uploaded_as="absent.txt") == []
