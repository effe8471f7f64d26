"""Fixtures: a real PostgreSQL with pgvector, the app with its lifespan, a uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis
import uvicorn
from starlette.testclient import TestClient

from app.asgi import Application
from app.auth.passwords import hash_password
from app.auth.tokens import digest
from app.config import load_settings
from app.db.embedded import start_embedded, with_database
from app.infra.http_limits import HTTP
from app.resources import run_migrations
from tests.fake_llm import FakeLLM
from tests.helpers import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD, AUTH

# Hashed once: Argon2 is slow on purpose.
_ADMIN_HASH = hash_password(ADMIN_PASSWORD)
LIMITS = ("ASKS", "UPLOADS", "SEARCHES", "LOGINS", "INVITATIONS")
# Tests run as the admin on testserver (TestClient) or loopback, with limits that tests which
# do not test them never reach.
TEST_ENV = {
    "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
    **{f"RATE_LIMIT_{kind}": "100000/minute" for kind in LIMITS},
}

REDIS_ADDRESS = ("127.0.0.1", 6379)
TEST_REDIS_DB = 9  # never the app's database 0


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL whose keys carry a prefix of their own (deleted afterwards); skips the test
    when no Redis answers on 127.0.0.1:6379."""
    host, port = REDIS_ADDRESS
    try:
        with socket.create_connection(REDIS_ADDRESS, timeout=1):
            pass
    except OSError as exc:
        pytest.skip(f"needs Redis on {host}:{port}, which is unreachable ({exc})")
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield f"redis://{host}:{port}/{TEST_REDIS_DB}?prefix={prefix}"
    client = redis.Redis(host=host, port=port, db=TEST_REDIS_DB)
    try:
        if keys := list(client.scan_iter(match=prefix + "*")):
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An admin URL: TEST_DATABASE_URL (a server with pgvector), else an embedded server."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    server = start_embedded(tmp_path_factory.mktemp("pg"))
    yield server.get_uri()
    server.cleanup()


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    """A brand-new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    yield with_database(postgres_url, name)
    asyncio.run(_admin(postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def database_url(postgres_url: str) -> Iterator[str]:
    """One migrated database shared by the app tests (emptied before each of them)."""
    name = f"app_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    url = with_database(postgres_url, name)
    asyncio.run(run_migrations(url))
    yield url
    asyncio.run(_admin(postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


async def _truncate(url: str) -> None:
    # TRUNCATE fires no DELETE triggers: the postings and collection statistics go too.
    await _admin(
        url,
        "TRUNCATE documents, jobs, conversations, collections, postings, lexicon, users, audit_log"
        " RESTART IDENTITY CASCADE;"
        " INSERT INTO collections (name) VALUES ('default')",
    )
    await add_test_admin(url)


async def add_test_admin(url: str) -> None:
    """The admin the tests act as, with the API key every test client sends (AUTH)."""
    conn = await asyncpg.connect(url)
    try:
        user_id = await conn.fetchval(
            "INSERT INTO users (email, password_hash, role) VALUES ($1, $2, 'admin') RETURNING id",
            ADMIN_EMAIL,
            _ADMIN_HASH,
        )
        await conn.execute(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, scopes)"
            " VALUES ($1, 'tests', $2, $3, '{keys}')",
            user_id,
            ADMIN_KEY[:12],
            digest(ADMIN_KEY),
        )
    finally:
        await conn.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path):
    asyncio.run(_truncate(database_url))
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "DATA_DIR": str(tmp_path),
            "MAX_UPLOAD_MB": "1",
            **TEST_ENV,
        }
    )


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    """The ASGI app through httpx, lifespan included, with an in-process worker."""
    with TestClient(Application(settings, local=True), headers=AUTH) as test_client:
        yield test_client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def run_asgi(app, log_level: str = "warning", http: str = HTTP) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn (the web process's loop, httptools with the
    header bounds of app/infra/http_limits.py) in a thread, on a loopback port; yields its
    base URL."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="app.infra.event_loop:new_event_loop",
        http=http,
        log_level=log_level,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def run_server(settings) -> contextlib.AbstractContextManager[str]:
    """The app (local mode) served by a real uvicorn on a loopback port."""
    return run_asgi(Application(settings, local=True))


@pytest.fixture
def live_server(settings) -> Iterator[str]:
    """The app served by a real uvicorn (uvloop + httptools) on a loopback port."""
    with run_server(settings) as url:
        yield url


def settings_with(settings, **env: str):
    """The test settings with more environment variables (e.g. LLM_BASE_URL)."""
    return load_settings(
        {
            "DATABASE_URL": settings.database_url,
            "DATA_DIR": str(settings.data_dir),
            "MAX_UPLOAD_MB": "1",
            **TEST_ENV,
            **env,
        }
    )


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """An OpenAI-compatible server on loopback that misbehaves on purpose."""
    with FakeLLM() as server:
        yield server
