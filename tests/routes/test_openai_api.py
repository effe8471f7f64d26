"""/v1/models and /v1/chat/completions, driven by the official `openai` package over uvicorn."""

import httpx
import openai
import pytest

from tests.helpers import ADMIN_KEY, AUTH, SOLAR_GUIDE, ingest, row_counts

QUESTION = "How efficient are monocrystalline solar panels?"


@pytest.fixture
def api(live_server):
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
    with openai.OpenAI(base_url=live_server + "/v1", api_key=ADMIN_KEY, max_retries=0) as client:
        yield client


def test_models_lists_the_knowledge_base(api):
    assert [m.id for m in api.models.list()] == ["rag", "rag:default"]


def test_completion_answers_from_the_documents_with_sources(api):
    completion = api.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}]
    )
    answer = completion.choices[0].message.content
    assert "22 percent" in answer and "[1]" in answer
    assert completion.choices[0].finish_reason == "stop"
    assert completion.sources[0]["n"] == 1 and completion.sources[0]["title"]
    assert completion.unsupported_citations == []


def test_streamed_completion_matches_the_plain_one(api):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
    ]
    plain = api.chat.completions.create(model="rag", messages=messages)
    chunks = list(api.chat.completions.create(model="rag", messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == plain.choices[0].message.content
    assert chunks[0].sources == plain.sources
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_followup_uses_the_earlier_turns(api):
    completion = api.chat.completions.create(
        model="rag",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": "About 22 percent [1]."},
            {"role": "user", "content": "And how often should they be cleaned?"},
        ],
    )
    assert "twice a year" in completion.choices[0].message.content


def test_unknown_model_and_bad_requests_are_refused_and_store_nothing(api, settings):
    before = row_counts(settings.database_url)
    with pytest.raises(openai.NotFoundError, match="GET /v1/models"):
        api.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "Hi?"}])
    with pytest.raises(openai.BadRequestError, match="messages"):
        api.chat.completions.create(model="rag", messages=[])
    with pytest.raises(openai.BadRequestError, match="last message"):
        api.chat.completions.create(
            model="rag", messages=[{"role": "assistant", "content": "Hello"}]
        )
    assert row_counts(settings.database_url) == before


TEA = "Green tea is brewed at eighty degrees for two minutes to keep it sweet."
COFFEE = "Espresso is brewed at ninety degrees under nine bars of pressure."
BREWED = "At what temperature is it brewed?"


@pytest.fixture
def collections_api(live_server):
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "tea.txt", TEA, collection="tea")
        ingest(http, "coffee.txt", COFFEE, collection="coffee")
    with openai.OpenAI(base_url=live_server + "/v1", api_key=ADMIN_KEY, max_retries=0) as client:
        yield client


def test_models_list_one_model_per_collection(collections_api):
    assert [m.id for m in collections_api.models.list()] == [
        "rag",
        "rag:default",
        "rag:tea",
        "rag:coffee",
    ]


def test_collection_model_answers_only_from_that_collection(collections_api):
    messages = [{"role": "user", "content": BREWED}]
    for model, title, words in (
        ("rag:tea", "tea.txt", "eighty"),
        ("rag:coffee", "coffee.txt", "ninety"),
    ):
        plain = collections_api.chat.completions.create(model=model, messages=messages)
        assert {s["title"] for s in plain.sources} == {title}
        assert words in plain.choices[0].message.content and plain.model == model
        chunks = list(
            collections_api.chat.completions.create(model=model, messages=messages, stream=True)
        )
        assert {s["title"] for s in chunks[0].sources} == {title}
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == (
            plain.choices[0].message.content
        )
    everything = collections_api.chat.completions.create(model="rag", messages=messages)
    assert {s["title"] for s in everything.sources} == {"tea.txt", "coffee.txt"}


def test_model_of_an_unknown_collection_is_not_found_and_stores_nothing(collections_api, settings):
    before = row_counts(settings.database_url)
    messages = [{"role": "user", "content": BREWED}]
    for model in ("rag:nope", "rag:../x", "rag:"):
        for stream in (False, True):
            with pytest.raises(openai.NotFoundError, match="GET /v1/models") as caught:
                collections_api.chat.completions.create(
                    model=model, messages=messages, stream=stream
                )
            assert caught.value.code == "model_not_found"
    assert row_counts(settings.database_url) == before
