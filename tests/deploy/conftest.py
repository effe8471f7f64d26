"""One deployment for the module's tests: Nginx (TLS) -> gunicorn with two workers recycled
every 20 requests -> Postgres; a slow fake LLM; JSON logs; a document already ingested."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db.embedded import with_database
from app.resources import run_migrations
from tests.conftest import TEST_ENV, _admin, add_test_admin
from tests.deploy.stack import Stack, run_stack
from tests.fake_llm import FakeLLM
from tests.helpers import SOLAR_GUIDE, ingest

# Long enough that many answers are mid-stream when a worker is recycled.
ANSWER = [f"word{n} " for n in range(40)] + ["[1]."]
TOKEN_SECONDS = 0.03
METRICS_TOKEN = "test-metrics-token"


@pytest.fixture(scope="package")
def fake_upstream() -> Iterator[FakeLLM]:
    with FakeLLM(answer=ANSWER, token_seconds=TOKEN_SECONDS) as server:
        yield server


@pytest.fixture(scope="package")
def stack(postgres_url, fake_upstream, tmp_path_factory) -> Iterator[Stack]:
    if shutil.which("nginx") is None:
        pytest.skip("Debian's nginx is not installed (apt-get install nginx)")
    name = f"deploy_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    url = with_database(postgres_url, name)
    asyncio.run(run_migrations(url))
    asyncio.run(add_test_admin(url))
    directory = tmp_path_factory.mktemp("stack")
    env = stack_env(url, directory, fake_upstream.url)
    try:
        with run_stack(env, directory) as running:
            with running.client(timeout=30) as client:
                ingest(client, "solar.md", SOLAR_GUIDE)
            yield running
    finally:
        asyncio.run(_admin(postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


def stack_env(url: str, directory: Path, upstream: str) -> dict[str, str]:
    """The deployment's settings: two gunicorn workers recycled every 20 requests, JSON logs,
    the LLM and embeddings from the fake `upstream`. tests/faults reuses them."""
    return {
        "DATABASE_URL": url,
        "DATA_DIR": str(directory / "data"),
        "WEB_CONCURRENCY": "2",
        "MAX_REQUESTS": "20",
        "MAX_REQUESTS_JITTER": "0",
        "GRACEFUL_TIMEOUT": "30",
        "MAX_UPLOAD_MB": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",  # required outside local mode
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "METRICS_TOKEN": METRICS_TOKEN,
        "LLM_BASE_URL": upstream,
        "LLM_MODEL": "paced",
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_BASE_URL": upstream,
        "EMBEDDING_MODEL": "hash",
        **{k: v for k, v in TEST_ENV.items() if k.startswith("RATE_LIMIT_")},
    }
