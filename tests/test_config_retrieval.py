"""The retrieval settings: embedding backend and reranker, checked at startup."""

import pytest

from app.config import ConfigError, load_settings


def test_defaults_are_onnx_int8_and_no_reranker():
    settings = load_settings({})
    assert (settings.embedding_backend, settings.rerank_provider) == ("onnx-int8", "none")


@pytest.mark.parametrize(
    "env,variable",
    [
        ({"EMBEDDING_BACKEND": "tensorflow"}, "EMBEDDING_BACKEND"),
        ({"EMBEDDING_BACKEND": "onnx"}, "EMBEDDING_MODEL"),
        ({"RERANK_PROVIDER": "http"}, "RERANK_BASE_URL"),
        ({"RERANK_PROVIDER": "local"}, "RERANK_MODEL"),
        ({"RERANK_PROVIDER": "cohere"}, "RERANK_PROVIDER"),
        ({"RERANK_CANDIDATES": "0"}, "RERANK_CANDIDATES"),
    ],
)
def test_a_bad_retrieval_setting_names_its_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        load_settings(env)
