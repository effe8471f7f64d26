"""Regression tests: error messages and logs must not repeat secrets or internal addresses."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.config import load_settings
from app.errors import ConfigError, EmbeddingUnavailable
from app.jobs.runner import public_error as _public_error
from tests.conftest import settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, ingest, parse_sse


@pytest.mark.parametrize(
    "env",
    [
        {"DATABASE_URL": "mysql://bob:hunter2secret@db.internal/rag"},
        {"DATABASE_URL": "postgresql://a@b/c", "REDIS_URL": "http://bob:hunter2secret@r/0"},
        {"DATABASE_URL": "postgresql://a@b/c", "CACHE_URL": "redis:/bob:hunter2secret@r/0"},
    ],
)
def test_config_error_for_a_malformed_url_does_not_echo_its_password(env):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "hunter2secret" not in caught.value.message and "is invalid" in caught.value.message


def test_llm_errors_do_not_repeat_llm_base_url(client, settings):
    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(
        settings,
        LLM_BASE_URL="http://bob:hunter2secret@127.0.0.1:9/v1",
        LLM_CONNECT_TIMEOUT="1",
    )
    with TestClient(Application(configured), headers=AUTH) as app:
        with app.stream("POST", "/api/chat", json={"question": "Solar panels?"}) as response:
            name, error, _ = parse_sse(response.read().decode())[-1]
    assert name == "error" and error["code"] == "upstream_unreachable"
    assert "LLM_BASE_URL" in error["message"]
    assert "127.0.0.1:9" not in error["message"] and "hunter2secret" not in error["message"]


def test_access_log_records_the_path_without_the_query_string(client, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        assert client.get("/api/search", params={"q": "hunter2secret"}).status_code == 200
    lines = [r for r in caplog.records if r.name == "app.access"]
    assert any("/api/search" in r.getMessage() for r in lines)
    for record in lines:
        assert "hunter2secret" not in record.getMessage()
        assert "hunter2secret" not in str(record.__dict__)


def test_a_failed_documents_error_says_what_happened_not_the_exception_text():
    job = {"id": 7, "attempts": 3, "max_attempts": 3}
    internal = OSError("connect to 10.0.0.5:5432 failed (/run/secrets/db)")
    final = _public_error(internal, job, final=True)
    assert "10.0.0.5" not in final and "OSError" not in final and "secrets" not in final
    assert "job 7" in final and "server log" in final and "upload it again" in final
    # Errors written for people (AppError) are shown as they are.
    readable = EmbeddingUnavailable("the embedding service is unreachable")
    again = _public_error(readable, {**job, "attempts": 1}, final=False)
    assert again == "the embedding service is unreachable; attempt 1 of 3, it will be tried again"
