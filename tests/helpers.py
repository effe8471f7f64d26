"""Helpers shared by the tests: uploads, waiting for ingestion, SSE parsing, row counts."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

T = TypeVar("T")

# The admin every app test runs as (tests/conftest.py creates it after emptying the tables).
ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "admin password"
ADMIN_KEY = "rag_0000test_admin-key-used-by-the-tests-only-0000000000"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}

SOLAR_GUIDE = """# Solar Panels Guide

## Efficiency

Modern monocrystalline solar panels convert about 22 percent of sunlight into electricity.
Polycrystalline panels are cheaper but reach only 17 percent.

## Maintenance

Panels should be cleaned twice a year. Dust and pollen can reduce output by up to 7 percent.
"""


def upload(
    client: httpx.Client, name: str, content: bytes | str, collection: str | None = None
) -> httpx.Response:
    data = content.encode() if isinstance(content, str) else content
    fields = {"collection": (None, collection)} if collection else {}
    return client.post("/api/documents", files={"file": (name, data), **fields})


def wait_ready(client: httpx.Client, document_id: str, timeout: float = 120) -> dict[str, Any]:
    """Poll the document until ingestion ends; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = client.get(f"/api/documents/{document_id}").json()["document"]
        if document["status"] in ("ready", "failed"):
            return document
        time.sleep(0.1)
    raise AssertionError(f"document {document_id} was not ingested in {timeout} s")


def ingest(
    client: httpx.Client, name: str, content: str | bytes, collection: str | None = None
) -> dict[str, Any]:
    response = upload(client, name, content, collection)
    assert response.status_code == 202, response.text
    document = wait_ready(client, response.json()["document"]["id"])
    assert document["status"] == "ready", document
    return document


def parse_sse(body: str) -> list[tuple[str, dict[str, Any], str | None]]:
    """(event, data, id) for each event of a text/event-stream body."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data, event_id = "message", [], None
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line.startswith("id:"):
                event_id = line[3:].strip()
        if data:
            events.append((name, json.loads("\n".join(data)), event_id))
    return events


async def _counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        tables = ("documents", "document_files", "chunks", "jobs", "conversations", "messages")
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables}
    finally:
        await conn.close()


def row_counts(url: str) -> dict[str, int]:
    """How many rows each table holds: bad input must leave these unchanged."""
    return asyncio.run(_counts(url))


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 30, every: float = 0.02
) -> T:
    """Poll `check` until it returns something truthy, and return that; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"the condition did not hold within {timeout} s")
        await asyncio.sleep(every)
    return result


async def claim_one(conn: Any, *, lock_seconds: float, worker: str) -> Any:
    """One job claimed the way workers claim them, or None."""
    from app.db import jobs as job_sql

    rows = await job_sql.claim_many(conn, lock_seconds=lock_seconds, worker=worker, limit=1)
    return rows[0] if rows else None


async def submit(conn: Any, *, data: bytes, source: str, media_type: str, title: str) -> Any:
    """Store a document and queue it as accept_document does, but without its upload check:
    tests put files before the worker that the check would have refused."""
    import hashlib
    from dataclasses import dataclass

    from app.db import collections as collection_sql
    from app.db import documents as document_sql
    from app.db import jobs as job_sql

    async def one_part() -> Any:
        yield data

    row, inserted = await document_sql.insert_document(
        conn,
        title=title,
        source=source,
        media_type=media_type,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        collection_id=collection_sql.DEFAULT_ID,
    )
    assert inserted, "the same content was submitted twice"
    await document_sql.copy_file(conn, row["id"], one_part())
    await job_sql.enqueue(conn, "ingest", {"document_id": str(row["id"])})

    @dataclass
    class Submitted:
        document: Any

    return Submitted(row)


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 (one day) and its key, made by openssl."""
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key
