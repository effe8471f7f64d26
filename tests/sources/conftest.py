"""A real folder under SOURCE_ROOTS, a pool, the real embedder and a worker running here."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db import collections as collection_sql
from app.db import sources as source_sql
from app.db.pool import create_pool
from app.embedders import load_embedder
from app.jobs.worker import Worker
from app.sources import settings_for
from tests.helpers import eventually


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "roots"
    root.mkdir()
    monkeypatch.setenv("SOURCE_ROOTS", str(root))
    return root


@pytest.fixture
async def running(settings):
    """(pool, embedder) with a worker (every job kind) running until the test ends; it may
    reach loopback (the test's own web and S3 servers), as ALLOW_PRIVATE_URLS=true allows."""
    pool = await create_pool(settings.database_url, max_size=8)
    embedder = await load_embedder(settings)
    reach = dataclasses.replace(settings, allow_private_urls=True, url_timeout_seconds=5)
    worker = Worker(pool, embedder, lock_seconds=5, poll_seconds=0.5, settings=reach)
    task = asyncio.create_task(worker.run())
    yield pool, embedder
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await embedder.close()
    await pool.close()


async def add_folder(pool: Any, name: str, path: Path, collection: str = "default") -> int:
    return await add_source(pool, name, "folder", {"path": str(path)}, collection)


async def add_source(
    pool: Any, name: str, kind: str, given: dict[str, Any], collection: str = "default"
) -> int:
    async with pool.acquire() as conn:
        collection_id = await collection_sql.get_or_create(conn, collection)
        source_id = await source_sql.create(
            conn,
            name=name,
            kind=kind,
            collection_id=collection_id,
            settings=settings_for(kind, given),
            every_minutes=None,
            created_by=None,
        )
    assert source_id is not None
    return source_id


async def sync(pool: Any, source_id: int) -> dict[str, Any]:
    """Queue a sync, wait for its job to end, return the source as the API shows it."""
    async with pool.acquire() as conn, conn.transaction():
        job_id, _ = await source_sql.request_sync(conn, source_id)

    async def ended() -> bool:
        async with pool.acquire() as conn:
            status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
        return status in ("done", "failed")

    await eventually(ended, timeout=180, every=0.1)
    async with pool.acquire() as conn:
        return source_sql.to_json(await source_sql.get(conn, source_id))


@dataclasses.dataclass
class Bucket:
    endpoint: str
    key_id: str
    secret: str
    admin: Any  # a boto3 S3 client that may do anything (moto's own credentials)

    def given(self, url: str = "s3://docs/guide/", secret: str | None = None) -> dict[str, Any]:
        return {
            "url": url,
            "endpoint": self.endpoint,
            "region": "us-east-1",
            "access_key_id": self.key_id,
            "secret_access_key": secret or self.secret,
        }


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    """moto's standalone S3 server (the real S3 wire protocol) on loopback, with a bucket
    `docs` and a user whose key may use it; signatures are checked (a wrong secret fails)."""
    import boto3
    import moto.settings
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    httpx.post(f"{endpoint}/moto-api/reset")  # moto's state is per process: start afresh
    root = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "moto-root",
        "aws_secret_access_key": "moto-root",
    }
    iam = boto3.client("iam", **root)
    iam.create_user(UserName="sync")
    key = iam.create_access_key(UserName="sync")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                      "Resource": "*"}]}  # fmt: skip
    iam.put_user_policy(UserName="sync", PolicyName="s3", PolicyDocument=json.dumps(policy))
    admin = boto3.client("s3", **root)
    admin.create_bucket(Bucket="docs")
    # From here on moto checks every request's credentials and signature.
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    admin = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    try:
        yield Bucket(endpoint, key["AccessKeyId"], key["SecretAccessKey"], admin)
    finally:
        server.stop()
