"""Collection names are unique per owner and resolved within what the caller may read: the
caller's own first, else the only readable one, else 409 asking for its id ("id:N"). So
creating a collection tells nothing of someone else's private one (a security finding)."""

from __future__ import annotations

from tests.auth.people import acting_as, make_person


def _upload(client, collection: str, text: str, filename: str = "n.txt") -> int:
    files = {"file": (filename, text.encode()), "collection": (None, collection)}
    return client.post("/api/documents", files=files).status_code


def _counts(client) -> dict[int, int]:
    rows = client.get("/api/collections").json()["collections"]
    return {r["id"]: r["document_count"] for r in rows}


def test_creating_a_collection_does_not_reveal_a_private_name(client, settings):
    bob = make_person(settings.database_url, "bob@example.org", "editor")
    carol = make_person(settings.database_url, "carol@example.org", "editor")
    with acting_as(client, bob.headers):
        assert client.post("/api/collections", json={"name": "secret-plans"}).status_code == 201
        assert _upload(client, "secret-plans", "bob's plans") == 202
    with acting_as(client, carol.headers):
        taken = client.post("/api/collections", json={"name": "secret-plans"})
        free = client.post("/api/collections", json={"name": "free-name"})
        # The same answer whether or not someone's private collection has the name.
        assert (taken.status_code, free.status_code) == (201, 201)
        assert taken.json() == {"collection": {"name": "secret-plans"}}
        assert _upload(client, "secret-plans", "carol's own plans") == 202
        mine = client.get("/api/collections").json()["collections"]
        assert {(c["name"], c["mine"], c["document_count"]) for c in mine} >= {
            ("secret-plans", True, 1),
            ("free-name", True, 0),
        }
        listed = client.get("/api/documents", params={"collection": "secret-plans"}).json()
        assert [d["title"] for d in listed["documents"]] == ["n.txt"]
    with acting_as(client, bob.headers):  # bob's collection kept its one document
        own = [c for c in client.get("/api/collections").json()["collections"] if c["mine"]]
        assert [(c["name"], c["document_count"]) for c in own] == [("secret-plans", 1)]


def test_a_name_means_the_callers_own_collection_first(client, settings):
    bob = make_person(settings.database_url, "bob@example.org", "editor")
    dave = make_person(settings.database_url, "dave@example.org", "editor")
    erin = make_person(settings.database_url, "erin@example.org", "reader")
    with acting_as(client, dave.headers):
        assert _upload(client, "team", "dave's team notes", "dave.txt") == 202
    dave_team = next(i for i, n in _counts(client).items() if n and i != 1)
    with acting_as(client, bob.headers):
        assert (
            _upload(client, "team", "bob's own team notes", "bob.txt") == 202
        )  # dave's is private yet
        assert client.post("/api/collections", json={"name": "team"}).status_code == 201
    # The admin reads both: the name alone is ambiguous, and the answer says what to send.
    ambiguous = client.get("/api/documents", params={"collection": "team"})
    assert ambiguous.status_code == 409
    assert ambiguous.json()["error"]["code"] == "ambiguous_collection"
    assert f"id:{dave_team}" in ambiguous.json()["error"]["message"]
    one = client.get("/api/documents", params={"collection": f"id:{dave_team}"})
    assert [d["title"] for d in one.json()["documents"]] == ["dave.txt"]
    assert client.get("/api/search", params={"q": "notes", "collection": "team"}).status_code == 409
    by_id = client.get("/api/search", params={"q": "team notes", "collection": f"id:{dave_team}"})
    assert by_id.status_code == 200
    shared = client.patch(f"/api/admin/collections/id:{dave_team}", json={"visibility": "shared"})
    assert shared.status_code == 200
    with acting_as(client, bob.headers):  # bob's own "team", not dave's shared one
        listed = client.get("/api/documents", params={"collection": "team"}).json()["documents"]
        assert [d["title"] for d in listed] == ["bob.txt"]
        assert client.get("/api/search", params={"q": "notes", "collection": "team"}).is_success
    with acting_as(client, erin.headers):  # erin reads only dave's (shared) "team"
        assert client.get("/api/search", params={"q": "notes", "collection": "team"}).is_success
        listed = client.get("/api/documents", params={"collection": "team"}).json()["documents"]
        assert [d["title"] for d in listed] == ["dave.txt"]
        # Someone's private collection is still "no collection" to her, by name or by id.
        bobs = client.get("/api/documents", params={"collection": "id:999999"})
        assert bobs.status_code == 404
    models = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert models.count("rag:team") == 1


def test_an_id_is_not_a_new_collection_name(client):
    answer = client.post("/api/collections", json={"name": "id:7"})
    assert answer.status_code == 400
    assert _upload(client, "id:424242", "nowhere") == 404
