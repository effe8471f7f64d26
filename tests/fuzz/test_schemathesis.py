"""Schemathesis over every operation of /openapi.json, against the app under a real uvicorn.

Twice: with the admin's API key and with no credentials. Checks: no 5xx, status codes, content
types and JSON bodies as the document says, and every 4xx a JSON error with a message.
The server has a database of its own (the fuzzer deletes and creates freely), and runs are
deterministic (derandomized, a fixed number of examples per operation).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import load_settings
from app.db.embedded import with_database
from app.resources import run_migrations
from tests.conftest import TEST_ENV, _admin, add_test_admin, run_server
from tests.helpers import AUTH

# Generated cases per operation and run, besides the boundary (coverage) cases. CI runs the
# fixed default; FUZZ_EXAMPLES=200 FUZZ_SEED=<n> hunts deeper by hand.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
SEED = int(os.environ.get("FUZZ_SEED", "13"))
SLOW_EXAMPLES = 5
SLOW_ON_PURPOSE = "^/api/(auth/(login|setup|signup)|account/password)$"
REQUEST_TIMEOUT = 30  # seconds; a stream that stalls fails the case instead of the suite hanging


@pytest.fixture(scope="module")
def fuzz_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app (local mode, in-process worker) on a fresh migrated database of its own."""
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    url = with_database(postgres_url, name)
    asyncio.run(run_migrations(url))
    asyncio.run(add_test_admin(url))
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    app_settings = load_settings(
        {
            "DATABASE_URL": url,
            "DATA_DIR": str(data_dir),
            "MAX_UPLOAD_MB": "1",
            "URL_TIMEOUT_SECONDS": "2",  # the fuzzer's URLs lead nowhere: fail them fast
            **TEST_ENV,
        }
    )
    try:
        with run_server(app_settings) as base_url:
            yield base_url
    finally:
        asyncio.run(_admin(postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


@pytest.fixture(scope="module")
def api_schema(fuzz_server: str) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "operations": [
                {
                    # Argon2 makes each of these cost ~0.1 s on purpose: fewer cases.
                    "include-path-regex": SLOW_ON_PURPOSE,
                    "generation": {"max-examples": SLOW_EXAMPLES},
                    "phases": {"coverage": {"enabled": False}},
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json", config=config)
    schema.config.base_url = fuzz_server
    return schema


@schemathesis.check
def error_is_json_with_a_message(ctx, response, case) -> bool | None:
    """Every 4xx is {"error": {"code", "message"}} with a message a person can read."""
    if not 400 <= response.status_code < 500 or case.method.upper() == "HEAD":
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"{response.status_code} is not JSON: {response.content[:200]!r}"
        ) from None
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    assert isinstance(message, str) and message.strip(), f"no error message in {body!r}"
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_is_json_with_a_message,
]
schema = schemathesis.pytest.from_fixture("api_schema")


# The document event stream never ends by design (it has no input to fuzz either): it is
# fuzzed without credentials only, where it answers 401 at once.
@schema.exclude(path="/api/documents/events").parametrize()
def test_api_with_the_admin_key(case):
    case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=REQUEST_TIMEOUT)


@schema.parametrize()
def test_api_without_credentials(case):
    case.call_and_validate(checks=CHECKS, timeout=REQUEST_TIMEOUT)
