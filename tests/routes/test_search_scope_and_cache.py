"""Search scoped to collections and documents; caches that never serve stale results."""

import shutil
import subprocess
import time
from dataclasses import replace

import pytest
import redis
from starlette.testclient import TestClient

from app.asgi import Application
from tests.conftest import _free_port
from tests.helpers import AUTH, ingest, upload

TEA = "Green tea is steeped at eighty degrees for two minutes."
BREAD = "Sourdough bread rises slowly thanks to wild yeast."
COFFEE = "Espresso is brewed by forcing hot water through finely ground coffee."


def titles(client, **params) -> list[str]:
    response = client.get("/api/search", params={"q": "tea bread espresso coffee", **params})
    assert response.status_code == 200, response.text
    return sorted({r["title"] for r in response.json()["results"]})


def test_search_is_scoped_to_a_collection_or_documents(client):
    tea = ingest(client, "tea.txt", TEA, collection="drinks")
    ingest(client, "bread.txt", BREAD)
    coffee = ingest(client, "coffee.txt", COFFEE, collection="drinks")
    assert tea["collection"] == "drinks"
    assert titles(client, collection="drinks") == ["coffee.txt", "tea.txt"]
    assert titles(client, collection="default") == ["bread.txt"]
    assert titles(client) == ["bread.txt", "coffee.txt", "tea.txt"]
    assert titles(client, document_id=[tea["id"]]) == ["tea.txt"]
    assert titles(client, document_id=[tea["id"], coffee["id"]]) == ["coffee.txt", "tea.txt"]
    listed = client.get("/api/documents", params={"collection": "drinks"}).json()["documents"]
    assert sorted(d["title"] for d in listed) == ["coffee.txt", "tea.txt"]


def test_unknown_or_invalid_collection_is_a_clear_error(client):
    response = client.get("/api/search", params={"q": "tea", "collection": "nope"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_collection"
    response = upload(client, "tea.txt", TEA, collection="../etc")
    assert response.status_code == 400
    assert "collection name" in response.json()["error"]["message"]


def test_same_file_in_two_collections_is_stored_in_each(client):
    first = ingest(client, "tea.txt", TEA, collection="drinks")
    second = ingest(client, "tea.txt", TEA, collection="archive")
    assert first["id"] != second["id"]
    assert upload(client, "tea.txt", TEA, collection="archive").json()["duplicate"] is True


def check_cache_follows_uploads_and_deletes(client) -> None:
    ingest(client, "tea.txt", TEA)
    assert titles(client) == ["tea.txt"]
    assert titles(client) == ["tea.txt"]  # now from the cache
    coffee = ingest(client, "coffee.txt", COFFEE)
    assert titles(client) == ["coffee.txt", "tea.txt"]
    assert client.delete(f"/api/documents/{coffee['id']}").status_code == 204
    assert titles(client) == ["tea.txt"]


def test_in_process_cache_is_invalidated_by_upload_and_delete(client):
    check_cache_follows_uploads_and_deletes(client)


@pytest.fixture
def redis_url():
    """A Redis server of the test's own, so the test may stop it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield url, process
    process.kill()
    process.wait()


@pytest.fixture
def redis_client(settings, redis_url):
    url, _ = redis_url
    with TestClient(
        Application(replace(settings, redis_url=url), local=True), headers=AUTH
    ) as client:
        yield client


def test_redis_cache_is_shared_and_invalidated_by_upload_and_delete(redis_client, redis_url):
    check_cache_follows_uploads_and_deletes(redis_client)
    keys = redis.Redis.from_url(redis_url[0]).keys("rag:*")
    assert any(k.startswith(b"rag:search:") for k in keys)
    assert any(k.startswith(b"rag:emb:") for k in keys)


def test_search_still_answers_with_redis_stopped(redis_client, redis_url):
    ingest(redis_client, "tea.txt", TEA)
    before = titles(redis_client)
    url, process = redis_url
    process.kill()
    process.wait()
    assert titles(redis_client) == before
    ingest(redis_client, "bread.txt", BREAD)
    assert titles(redis_client) == ["bread.txt", "tea.txt"]
