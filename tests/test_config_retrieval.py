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


def test_every_provider_table_entry_loads_and_a_bad_name_lists_the_table():
    from app.config import EMBEDDING_BACKENDS, EMBEDDING_PROVIDERS, LLMS, RERANKERS

    for table in (EMBEDDING_PROVIDERS, EMBEDDING_BACKENDS, RERANKERS, LLMS):
        for choice in table.values():
            assert choice.loader is None or callable(choice.load())
    with pytest.raises(ConfigError, match="must be one of none, local, http"):
        load_settings({"RERANK_PROVIDER": "cohere"})


def test_the_settings_defaults_are_the_tables_first_entries():
    from dataclasses import fields

    from app.config import EMBEDDING_BACKENDS, RERANKERS, Settings

    declared = {f.name: f.default for f in fields(Settings)}
    loaded = load_settings({})
    assert (
        declared["embedding_backend"] == loaded.embedding_backend == next(iter(EMBEDDING_BACKENDS))
    )
    assert declared["rerank_provider"] == loaded.rerank_provider == next(iter(RERANKERS))
    assert declared["llm_provider"] == loaded.llm_provider == "extractive"  # auto, no server


@pytest.mark.parametrize(
    "env,message",
    [
        ({"LLM_PROVIDER": "openai"}, "LLM_PROVIDER=openai needs LLM_BASE_URL"),
        ({"EMBEDDING_PROVIDER": "openai"}, "EMBEDDING_PROVIDER=openai needs EMBEDDING_BASE_URL"),
        (
            {"EMBEDDING_PROVIDER": "openai", "EMBEDDING_BASE_URL": "http://127.0.0.1:9/v1"},
            "EMBEDDING_PROVIDER=openai needs EMBEDDING_MODEL",
        ),
    ],
)
def test_a_provider_without_what_it_needs_says_what_to_set(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


async def test_the_tables_build_the_chosen_providers():
    from app.embedders import load_embedder
    from app.llm import load_llm
    from app.rerankers import load_reranker

    settings = load_settings({})
    assert await load_reranker(settings) is None
    assert load_llm(settings).name == "extractive"
    embedder = await load_embedder(settings)
    try:
        assert embedder.languages == frozenset({"en"}) and embedder.dimension == 384
    finally:
        await embedder.close()
