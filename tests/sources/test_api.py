"""/api/sources: who may list, add and sync; hostile input answered in words."""

from __future__ import annotations

import time
from pathlib import Path

from tests.auth.people import make_person


def _folder(roots: Path, name: str) -> Path:
    folder = roots / name
    folder.mkdir()
    (folder / "notes.txt").write_text(f"Notes about {name}: herons nest by the river.")
    return folder


def _wait_synced(client, name: str, idle: bool = True) -> dict:
    """The source once a sync has ended (and, when `idle`, no other is queued)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for source in client.get("/api/sources").json()["sources"]:
            if source["name"] != name or not source["last_sync_at"]:
                continue
            if not idle or source["sync_status"] is None:
                return source
        time.sleep(0.2)
    raise AssertionError(f"source {name} never synced")


def test_admin_adds_and_syncs_a_folder_once_at_a_time(client, roots: Path):
    folder = _folder(roots, "river")
    added = client.post(
        "/api/sources", json={"kind": "folder", "name": "river", "path": str(folder)}
    )
    assert added.status_code == 201, added.text
    source = added.json()["source"]
    assert source["collection"] == "default" and source["settings"]["path"] == str(folder)
    first = client.post(f"/api/sources/{source['id']}/sync")
    again = client.post(f"/api/sources/{source['id']}/sync")
    assert first.status_code == again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]  # one sync of a source at a time
    synced = _wait_synced(client, "river")
    assert synced["last_counts"]["added"] == 1 and synced["document_count"] == 1
    assert synced["last_error"] is None
    hits = client.get("/api/search", params={"q": "herons"}).json()
    assert "herons" in str(hits)


def test_scheduled_source_syncs_at_once_and_queues_the_next(client, roots: Path):
    folder = _folder(roots, "tides")
    body = {"kind": "folder", "name": "tides", "path": str(folder), "every_minutes": 60}
    assert client.post("/api/sources", json=body).status_code == 201
    synced = _wait_synced(client, "tides", idle=False)
    assert synced["last_counts"]["added"] == 1
    assert synced["sync_status"] == "queued" and synced["next_sync_at"] > synced["last_sync_at"]


def test_hostile_source_settings_refused_in_words(client, roots: Path, tmp_path: Path):
    folder = _folder(roots, "ok")
    cases = [
        ({"kind": "ftp", "name": "x", "path": str(folder)}, 400, "kind is one of"),
        ({"kind": "folder", "name": "../x", "path": str(folder)}, 400, "name:"),
        ({"kind": "folder", "name": "x", "path": str(tmp_path)}, 400, "not under SOURCE_ROOTS"),
        ({"kind": "folder", "name": "x", "path": "relative/dir"}, 400, "absolute path"),
        ({"kind": "folder", "name": "x"}, 400, "path"),
        ({"kind": "folder", "name": "x", "path": str(folder) + "\x00"}, 400, "NUL character"),
        ({"kind": "folder", "name": "x", "path": str(folder), "every_minutes": 0}, 400, "every"),
        ({"kind": "folder", "name": "x", "path": str(folder), "every_minutes": True}, 400, "every"),
        ([1, 2], 400, "send JSON"),
    ]
    for body, status, words in cases:
        response = client.post("/api/sources", json=body)
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["error"]["message"], (body, response.text)
    ok = {"kind": "folder", "name": "dup", "path": str(folder)}
    assert client.post("/api/sources", json=ok).status_code == 201
    assert client.post("/api/sources", json=ok).status_code == 409
    assert client.post("/api/sources/999/sync").status_code == 404
    assert client.post("/api/sources/abc/sync").status_code == 400


def test_readers_refused_and_editors_only_for_collections_they_may_write(
    client, settings, roots: Path
):
    reader = make_person(settings.database_url, "reader@example.com", "reader")
    editor = make_person(settings.database_url, "editor@example.com", "editor")
    folder = _folder(roots, "shared")
    # The editor's own collection, and a source in it (added by an admin: folders are theirs).
    assert (
        client.post("/api/collections", json={"name": "mine"}, headers=editor.headers).status_code
        == 201
    )
    body = {"kind": "folder", "name": "theirs", "path": str(folder), "collection": "mine"}
    in_mine = client.post("/api/sources", json=body).json()["source"]["id"]
    body = {"kind": "folder", "name": "admins", "path": str(folder), "collection": "private1"}
    in_private = client.post("/api/sources", json=body).json()["source"]["id"]
    body = {"kind": "folder", "name": "deflt", "path": str(folder)}
    in_default = client.post("/api/sources", json=body).json()["source"]["id"]

    for path in ("/api/sources",):
        assert client.get(path, headers=reader.headers).status_code == 403
    body = {"kind": "folder", "name": "r", "path": str(folder), "collection": "mine"}
    assert client.post("/api/sources", json=body, headers=reader.headers).status_code == 403
    assert client.post(f"/api/sources/{in_mine}/sync", headers=reader.headers).status_code == 403

    refused = client.post("/api/sources", json=body, headers=editor.headers)
    assert refused.status_code == 403 and "admins" in refused.json()["error"]["message"]
    listed = client.get("/api/sources", headers=editor.headers).json()["sources"]
    assert "admins" not in {s["name"] for s in listed} and "theirs" in {s["name"] for s in listed}
    assert client.post(f"/api/sources/{in_mine}/sync", headers=editor.headers).status_code == 202
    assert client.post(f"/api/sources/{in_private}/sync", headers=editor.headers).status_code == 404
    default = client.post(f"/api/sources/{in_default}/sync", headers=editor.headers)
    assert default.status_code in (403, 404)
    names = {s["name"] for s in client.get("/api/sources").json()["sources"]}
    assert names == {"theirs", "admins", "deflt"}  # refused requests added nothing


def test_pause_resume_and_delete_a_source(client, settings, roots: Path):
    folder = _folder(roots, "marsh")
    body = {"kind": "folder", "name": "marsh", "path": str(folder), "every_minutes": 30}
    source_id = client.post("/api/sources", json=body).json()["source"]["id"]
    synced = _wait_synced(client, "marsh", idle=False)
    assert synced["sync_status"] == "queued"  # the next scheduled sync

    paused = client.patch(f"/api/sources/{source_id}", json={"paused": True})
    assert paused.status_code == 200 and paused.json()["source"]["paused"] is True
    assert paused.json()["source"]["sync_status"] is None  # the scheduled one is dropped
    bad = client.patch(f"/api/sources/{source_id}", json={"paused": "yes"})
    assert bad.status_code == 400 and "paused" in bad.json()["error"]["message"]
    resumed = client.patch(f"/api/sources/{source_id}", json={"paused": False}).json()
    assert resumed["source"]["paused"] is False and resumed["source"]["sync_status"] is not None

    reader = make_person(settings.database_url, "r2@example.com", "reader")
    assert client.delete(f"/api/sources/{source_id}", headers=reader.headers).status_code == 403
    assert client.delete(f"/api/sources/{source_id}").status_code == 204
    assert client.get("/api/sources").json()["sources"] == []
    assert client.get("/api/documents").json()["documents"] == []
    assert client.delete(f"/api/sources/{source_id}").status_code == 404


def test_web_and_s3_sources_follow_the_url_rules(client, settings):
    reader = make_person(settings.database_url, "reader3@example.com", "reader")
    editor = make_person(settings.database_url, "editor3@example.com", "editor")
    mine = client.post("/api/collections", json={"name": "mine"}, headers=editor.headers)
    assert mine.status_code == 201
    web = {"kind": "web", "name": "site", "collection": "mine",
           "settings": {"url": "http://93.184.216.34/docs/", "max_pages": 50}}  # fmt: skip
    assert client.post("/api/sources", json=web, headers=reader.headers).status_code == 403
    added = client.post("/api/sources", json=web, headers=editor.headers)
    assert added.status_code == 201, added.text  # editors add web sources to their collections
    assert added.json()["source"]["settings"] == {
        "url": "http://93.184.216.34/docs/",
        "max_pages": 50,
        "max_depth": 3,
    }
    theirs = {**web, "name": "site2", "collection": "default"}
    assert client.post("/api/sources", json=theirs, headers=editor.headers).status_code in (
        403,
        404,
    )

    loopback = {**web, "name": "local", "settings": {"url": "http://127.0.0.1:9/docs/"}}
    refused = client.post("/api/sources", json=loopback, headers=editor.headers)
    assert refused.status_code == 400 and "ALLOW_PRIVATE_URLS" in refused.text
    metadata = {
        "kind": "s3",
        "name": "meta",
        "settings": {
            "url": "s3://bucket/",
            "endpoint": "http://169.254.169.254",
            "access_key_id": "k",
            "secret_access_key": "s",
        },
    }
    never = client.post("/api/sources", json=metadata)
    assert never.status_code == 400 and "s" not in never.json().get("source", {})
    bad = client.post("/api/sources", json={"kind": "web", "name": "x", "settings": "url"})
    assert bad.status_code == 400 and '"settings"' in bad.json()["error"]["message"]
    names = {s["name"] for s in client.get("/api/sources").json()["sources"]}
    assert names == {"site"}  # refused requests added nothing


def test_a_kind_that_is_not_a_string_is_refused_in_words(client):
    # found by the fuzzer: KINDS is a dict, and a dict kind is unhashable
    for kind in ({"a": 1}, ["web"], 3, None):
        response = client.post("/api/sources", json={"kind": kind, "name": "x"})
        assert response.status_code == 400 and "kind is one of" in response.text, kind
