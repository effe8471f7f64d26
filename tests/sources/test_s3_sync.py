"""S3 sources against moto's standalone server (the S3 wire protocol on loopback): objects
added, changed and deleted between syncs; a wrong secret fails the listing and deletes
nothing; the secret is write-only (never in an answer, never in the log)."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.sources import SourceSettingsError, settings_for
from tests.helpers import AUTH
from tests.sources.conftest import Bucket, add_source, sync
from tests.test_cli import run


def put(bucket: Bucket, key: str, text: str) -> None:
    bucket.admin.put_object(Bucket="docs", Key=key, Body=text.encode())


async def test_a_bucket_changed_between_syncs(running, bucket: Bucket):
    pool, _ = running
    put(bucket, "guide/ferns.txt", "Ferns grow in the shade of old oaks.")
    put(bucket, "guide/moss.md", "# Moss\n\nMoss holds water like a sponge.")
    put(bucket, "guide/lichen.txt", "Lichen is a fungus living with an alga.")
    put(bucket, "guide/photo.bin", "not a document type")
    put(bucket, "elsewhere/out.txt", "Outside the prefix.")
    source_id = await add_source(pool, "forest", "s3", bucket.given())

    first = await sync(pool, source_id)
    assert first["last_error"] is None
    assert first["last_counts"]["added"] == 3 and first["document_count"] == 3
    again = await sync(pool, source_id)
    assert again["last_counts"]["unchanged"] == 3 and again["last_counts"]["chunks_embedded"] == 0

    put(bucket, "guide/moss.md", "# Moss\n\nMoss grows on the north side of trees.")
    bucket.admin.delete_object(Bucket="docs", Key="guide/lichen.txt")
    put(bucket, "guide/bracken.txt", "Bracken spreads over open hills.")
    changed = await sync(pool, source_id)
    counts = changed["last_counts"]
    assert (counts["added"], counts["changed"], counts["removed"], counts["unchanged"]) == (
        1, 1, 1, 1
    )  # fmt: skip
    async with pool.acquire() as conn:
        keys = await conn.fetch("SELECT item_key FROM documents WHERE source_id = $1", source_id)
        text = await conn.fetchval(
            "SELECT string_agg(c.text, ' ') FROM chunks c JOIN documents d ON d.id = "
            "c.document_id WHERE d.item_key = 'guide/moss.md'"
        )
    assert {row["item_key"] for row in keys} == {"guide/ferns.txt", "guide/moss.md",
                                                 "guide/bracken.txt"}  # fmt: skip
    assert "north side" in text and "sponge" not in text


async def test_a_wrong_secret_fails_the_listing_and_deletes_nothing(running, bucket: Bucket):
    pool, _ = running
    put(bucket, "guide/ferns.txt", "Ferns grow in the shade of old oaks.")
    source_id = await add_source(pool, "forest2", "s3", bucket.given())
    assert (await sync(pool, source_id))["document_count"] == 1
    async with pool.acquire() as conn:
        await conn.execute(
            """UPDATE sources SET settings = settings || '{"secret_access_key": "wrong"}'
               WHERE id = $1""",
            source_id,
        )
    failed = await sync(pool, source_id)
    assert "listing failed, nothing was changed" in failed["last_error"]
    assert "secret access key is wrong" in failed["last_error"]
    assert failed["document_count"] == 1

    missing = await add_source(pool, "nobucket", "s3", bucket.given("s3://absent/"))
    assert "no such bucket" in (await sync(pool, missing))["last_error"]


def test_the_secret_is_write_only(settings, bucket: Bucket, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    put(bucket, "guide/ferns.txt", "Ferns grow in the shade of old oaks.")
    reach = dataclasses.replace(settings, allow_private_urls=True)
    body = {"kind": "s3", "name": "ferns", "settings": bucket.given()}
    with TestClient(Application(reach, local=True), headers=AUTH) as client:
        added = client.post("/api/sources", json=body)
        assert added.status_code == 201, added.text
        shown = added.json()["source"]["settings"]
        assert shown["access_key_id"] == bucket.key_id and "secret_access_key" not in shown
        source_id = added.json()["source"]["id"]
        assert client.post(f"/api/sources/{source_id}/sync").status_code == 202
        listed = _wait_synced(client, "ferns")
        assert listed["document_count"] == 1 and listed["last_error"] is None
        answers = added.text + client.get("/api/sources").text
    assert bucket.secret not in answers
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert bucket.secret not in logged


def test_s3_from_the_command_line_secret_from_the_environment(settings, bucket: Bucket):
    put(bucket, "guide/ferns.txt", "Ferns grow in the shade of old oaks.")
    env = {
        "DATABASE_URL": settings.database_url,
        "ALLOW_PRIVATE_URLS": "true",
        "AWS_ACCESS_KEY_ID": bucket.key_id,
        "AWS_SECRET_ACCESS_KEY": bucket.secret,
    }
    added = run("sources", "add", "s3", "cli-ferns", "s3://docs/guide/",
                "--endpoint", bucket.endpoint, "--region", "us-east-1", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert bucket.secret not in added.stdout + added.stderr
    synced = run("sources", "sync", "cli-ferns", env=env)
    assert synced.returncode == 0, synced.stderr
    counts = json.loads(synced.stdout.strip().splitlines()[-1])
    assert counts["added"] == 1 and counts["chunks_embedded"] >= 1
    listed = run("sources", "list", env=env)
    assert bucket.secret not in listed.stdout + synced.stdout + synced.stderr

    no_secret = {k: v for k, v in env.items() if k != "AWS_SECRET_ACCESS_KEY"}
    refused = run("sources", "add", "s3", "x", "s3://docs/", "--endpoint", bucket.endpoint,
                  env=no_secret)  # fmt: skip
    assert refused.returncode == 1 and "secret_access_key" in refused.stderr


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"url": "https://docs/"}, "s3://BUCKET/PREFIX"),
        ({"url": "s3://docs/"}, "endpoint"),
        ({"url": "s3://docs/", "endpoint": "ftp://x"}, "endpoint"),
        ({"url": "s3://docs/", "endpoint": "http://[x"}, "endpoint"),
        ({"url": "s3://[/", "endpoint": "http://x"}, "s3://BUCKET/PREFIX"),
        ({"url": "s3://docs/", "endpoint": "http://x", "access_key_id": "k"}, "secret"),
        ({"url": "s3://docs/", "endpoint": "http://x", "region": "us east"}, "region"),
    ],
)
def test_bad_s3_settings_refused_in_words(given: dict[str, Any], words: str):
    with pytest.raises(SourceSettingsError, match=words):
        settings_for("s3", given)


def _wait_synced(client: TestClient, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for source in client.get("/api/sources").json()["sources"]:
            if source["name"] == name and source["last_sync_at"] and not source["sync_status"]:
                return source
        time.sleep(0.2)
    raise AssertionError(f"source {name} never synced")


async def test_a_plain_http_endpoint_rebound_after_the_check_is_not_reached(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
):
    """The endpoint's name answers a loopback address to the check, then the cloud metadata
    address to anyone who asks again (DNS rebinding): the listing must go to the address
    that was checked, signed for the name (moto checks the signature), and ask DNS once."""
    import socket

    from app.sources import Known, Network, connector

    put(bucket, "guide/a.md", "# A\n\nAlpha.")
    port = bucket.endpoint.rsplit(":", 1)[1]
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "localhost":
            return real(host, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "169.254.169.254"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    given = {**bucket.given(), "endpoint": f"http://localhost:{port}"}
    source = connector("s3", settings_for("s3", given), Network(allow_private=True, timeout=3))
    items = await source.list(Known())
    assert [item.key for item in items] == ["guide/a.md"]
    assert (await source.fetch("guide/a.md")).startswith(b"# A")
    assert lookups == ["localhost"]
