"""One error tree: every expected failure is an AppError defined in app/errors.py."""

import errno

import asyncpg
import pytest

from app.config import ConfigError
from app.db.migrate import DatabaseSetupError
from app.embedders.openai import EmbeddingUnavailable
from app.errors import AppError, BadRequest, IngestError
from app.ingest.fetch import RefusedURL, check_url
from app.ingest.formats import parse
from app.ingest.formats.base import IngestError as FormatsIngestError
from app.ingest.reindex import ModelMismatch
from app.llm.base import LLMError


@pytest.mark.parametrize(
    "error",
    [
        ConfigError,
        DatabaseSetupError,
        ModelMismatch,
        FormatsIngestError,
        EmbeddingUnavailable,
        LLMError,
        RefusedURL,
    ],
)
def test_every_error_root_is_an_app_error_from_one_module(error):
    assert issubclass(error, AppError)
    assert error.__module__ == "app.errors"
    assert 400 <= error.status < 600 and error.code


def test_the_worker_gets_ingestion_errors_not_http_ones():
    # An empty text file is what the worker's parse raised BadRequest for.
    with pytest.raises(IngestError) as caught:
        parse(b"  \n", "text/plain", "empty.txt")
    assert not isinstance(caught.value, BadRequest)
    assert caught.value.status == 400 and caught.value.code == "empty_file"


async def test_a_refused_url_is_an_ingestion_error_with_a_4xx_status():
    with pytest.raises(IngestError) as caught:
        await check_url("http://127.0.0.1/x", allow_private=False)
    assert isinstance(caught.value, RefusedURL) and caught.value.status == 400


def _raising(exc: Exception):
    """An app with the site's error handlers whose one API route raises `exc`."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    from app.http_errors import exception_handlers

    async def route(request):
        raise exc

    return Starlette(routes=[Route("/api/x", route)], exception_handlers=exception_handlers)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.DiskFullError("could not extend file: No space left"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
    ids=["postgres-53100", "local-enospc"],
)
def test_disk_full_answers_507_insufficient_storage_not_500(exc):
    from starlette.testclient import TestClient

    with TestClient(_raising(exc), raise_server_exceptions=False) as client:
        response = client.get("/api/x")
    assert response.status_code == 507, response.text
    error = response.json()["error"]
    assert error["code"] == "insufficient_storage" and "disk space" in error["message"]


def test_other_os_errors_still_answer_500():
    from starlette.testclient import TestClient

    with TestClient(_raising(OSError(5, "I/O error")), raise_server_exceptions=False) as client:
        assert client.get("/api/x").status_code == 500
