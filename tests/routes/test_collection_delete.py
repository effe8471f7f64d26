"""DELETE /api/collections/{name}: its owner or an admin; an empty collection at once, one with
documents only when the caller says its documents go too. Every refusal leaves it whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
import pytest

from tests.auth.people import Person, acting_as, make_person
from tests.helpers import AUTH, SOLAR_GUIDE, ingest


@dataclass
class Cast:
    reader: Person
    owner: Person
    other: Person  # another editor


@pytest.fixture
def cast(settings) -> Cast:
    url = settings.database_url
    return Cast(
        make_person(url, "reader@example.org", "reader"),
        make_person(url, "owner@example.org", "editor"),
        make_person(url, "other@example.org", "editor"),
    )


async def _facts(url: str, name: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        return {
            "collections": await conn.fetchval(
                "SELECT count(*) FROM collections WHERE name = $1", name
            ),
            "documents": await conn.fetchval(
                """SELECT count(*) FROM documents d JOIN collections c
                   ON c.id = d.collection_id WHERE c.name = $1""",
                name,
            ),
            "orphan_chunks": await conn.fetchval(
                """SELECT count(*) FROM chunks
                   WHERE collection_id NOT IN (SELECT id FROM collections)"""
            ),
            "orphan_postings": await conn.fetchval(
                """SELECT count(*) FROM postings
                   WHERE collection_id NOT IN (SELECT id FROM collections)"""
            ),
            "files": await conn.fetchval("SELECT count(*) FROM document_files"),
        }
    finally:
        await conn.close()


def facts(settings, name: str) -> dict[str, int]:
    return asyncio.run(_facts(settings.database_url, name))


def owned_collection(client, owner: Person, name: str, *, documents: int, shared: bool = False):
    """A collection of `owner` holding that many documents; shared with everyone if asked."""
    with acting_as(client, owner.headers):
        assert client.post("/api/collections", json={"name": name}).status_code == 201
        for i in range(documents):
            ingest(client, f"{name}-{i}.md", f"# {name} {i}\n\n{SOLAR_GUIDE}", name)
    if shared:
        response = client.patch(f"/api/admin/collections/{name}", json={"visibility": "shared"})
        assert response.status_code == 200, response.text


def test_anonymous_cannot_delete_a_collection(client, settings, cast):
    owned_collection(client, cast.owner, "notes", documents=0)
    with acting_as(client, None):
        response = client.delete("/api/collections/notes")
    assert response.status_code == 401
    assert facts(settings, "notes")["collections"] == 1


def test_a_reader_cannot_delete_a_shared_collection(client, settings, cast):
    owned_collection(client, cast.owner, "notes", documents=0, shared=True)
    with acting_as(client, cast.reader.headers):
        response = client.delete("/api/collections/notes")
    assert response.status_code == 403
    assert "editor" in response.json()["error"]["message"]
    assert facts(settings, "notes")["collections"] == 1


def test_another_editor_cannot_delete_a_collection_they_do_not_own(client, settings, cast):
    owned_collection(client, cast.owner, "private-notes", documents=0)
    owned_collection(client, cast.owner, "shared-notes", documents=1, shared=True)
    with acting_as(client, cast.other.headers):
        # One they cannot read does not exist for them; one they can read is not theirs.
        hidden = client.delete("/api/collections/private-notes")
        shared = client.delete("/api/collections/shared-notes?delete_documents=true")
    assert hidden.status_code == 404
    assert shared.status_code == 403
    assert "owner" in shared.json()["error"]["message"]
    assert facts(settings, "private-notes")["collections"] == 1
    assert facts(settings, "shared-notes")["documents"] == 1


def test_a_member_who_is_not_the_owner_cannot_delete_it(client, settings, cast):
    owned_collection(client, cast.owner, "team", documents=0)
    added = client.post("/api/admin/collections/team/members", json={"email": cast.other.email})
    assert added.status_code == 201, added.text
    with acting_as(client, cast.other.headers):
        response = client.delete("/api/collections/team")
    assert response.status_code == 403
    assert facts(settings, "team")["collections"] == 1


def test_the_owner_deletes_an_empty_collection(client, settings, cast):
    owned_collection(client, cast.owner, "empty", documents=0)
    with acting_as(client, cast.owner.headers):
        listed = client.get("/api/collections").json()["collections"]
        assert {c["name"]: c["can_delete"] for c in listed} == {"default": False, "empty": True}
        assert client.delete("/api/collections/empty").status_code == 204
        assert client.delete("/api/collections/empty").status_code == 404  # gone
    assert facts(settings, "empty")["collections"] == 0


def test_a_collection_with_documents_is_kept_until_the_caller_confirms(client, settings, cast):
    owned_collection(client, cast.owner, "manuals", documents=2)
    files_before = facts(settings, "manuals")["files"]
    with acting_as(client, cast.owner.headers):
        refused = client.delete("/api/collections/manuals")
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "collection_not_empty"
        assert "2 documents" in error["message"] and "delete_documents=true" in error["message"]
        assert facts(settings, "manuals")["documents"] == 2
        assert client.delete("/api/collections/manuals?delete_documents=true").status_code == 204
    after = facts(settings, "manuals")
    assert after["collections"] == 0 and after["documents"] == 0
    assert after["orphan_chunks"] == 0 and after["orphan_postings"] == 0
    assert after["files"] == files_before - 2
    # What was in it is no longer found.
    assert "manuals" not in client.get("/api/search", params={"q": "solar"}).text


def test_an_admin_deletes_anyones_collection(client, settings, cast):
    owned_collection(client, cast.owner, "theirs", documents=1)
    listed = client.get("/api/collections").json()["collections"]
    assert {c["name"]: c["can_delete"] for c in listed}["theirs"] is True
    with acting_as(client, AUTH):
        assert client.delete("/api/collections/theirs?delete_documents=true").status_code == 204
    assert facts(settings, "theirs")["collections"] == 0


def test_the_default_collection_cannot_be_deleted(client, settings):
    response = client.delete("/api/collections/default?delete_documents=true")
    assert response.status_code == 409
    assert "default collection" in response.json()["error"]["message"]
    assert facts(settings, "default")["collections"] == 1


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/collections/no-such-one", 404),
        ("/api/collections/bad%20name", 400),
        ("/api/collections/x?delete_documents=maybe", 400),
    ],
    ids=["unknown", "bad-name", "bad-flag"],
)
def test_a_bad_delete_request_says_what_is_wrong(client, path, status):
    response = client.delete(path)
    assert response.status_code == status
    assert response.json()["error"]["message"]
