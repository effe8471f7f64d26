"""One error tree: every expected failure is an AppError defined in app/errors.py."""

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
