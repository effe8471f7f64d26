"""Declining honestly (issue 20): a question the documents do not answer is said to be so, in
words, with `answered: false` in `done`, in /v1's response and in the stored message; the
same for a language model that says it does not know. Stored answers keep their provider,
`answered` and unsupported citations, so a reload shows what the live answer showed."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from app.asgi import Application
from app.llm.decline import CLOSEST, DECLINED
from tests.conftest import settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, ingest, parse_sse

UNRELATED = "What is the recommended daily dose of vitamin D?"
ANSWERED = "How often should the panels be cleaned?"


def _ask(client: TestClient, question: str) -> tuple[str, dict[str, Any], str]:
    """(answer text, done event data, conversation id)"""
    with client.stream("POST", "/api/chat", json={"question": question}) as response:
        assert response.status_code == 200
        events = parse_sse(response.read().decode())
    text = "".join(data["text"] for name, data, _ in events if name == "token")
    assert events[-1][0] == "done", events[-1]
    return text, events[-1][1], events[0][1]["conversation_id"]


def _stored_answer(client: TestClient, conversation_id: str) -> dict[str, Any]:
    response = client.get(f"/api/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    question, answer = response.json()["conversation"]["messages"]
    assert question["provider"] is None and question["answered"] is None
    return answer


def test_unrelated_question_is_declined_in_words_and_stored_declined(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    text, done, conversation_id = _ask(client, UNRELATED)
    assert text.startswith(DECLINED)
    # What follows the decline is marked as the closest passage, not an answer.
    assert text == DECLINED or text.startswith(f"{DECLINED} {CLOSEST} ")
    assert done["answered"] is False
    stored = _stored_answer(client, conversation_id)
    assert stored["content"] == text
    assert stored["answered"] is False and stored["provider"] == "extractive"
    assert stored["unsupported_citations"] == []


def test_answered_question_is_stored_answered_by_the_extractive_provider(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    text, done, conversation_id = _ask(client, ANSWERED)
    assert text.startswith("Panels should be cleaned twice a year. [1]")
    assert done["answered"] is True
    stored = _stored_answer(client, conversation_id)
    assert (stored["provider"], stored["answered"]) == ("extractive", True)


def test_llm_that_does_not_know_sets_answered_false(client, settings, fake_llm):
    ingest(client, "solar.md", SOLAR_GUIDE)
    fake_llm.answer = ["I don't know", ": the sources", " do not say."]
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    with TestClient(Application(configured), headers=AUTH) as app:
        text, done, conversation_id = _ask(app, UNRELATED)
        stored = _stored_answer(app, conversation_id)
    assert text == "I don't know: the sources do not say."
    assert done["answered"] is False
    assert (stored["provider"], stored["answered"]) == ("openai", False)
    # The model was told how to decline.
    assert DECLINED in fake_llm.requests[-1]["messages"][0]["content"]


def test_llm_answer_with_an_unsupported_citation_keeps_it_after_reload(client, settings, fake_llm):
    ingest(client, "solar.md", SOLAR_GUIDE)
    fake_llm.answer = ["The football world cup of 1998 was won by France [1]."]
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    with TestClient(Application(configured), headers=AUTH) as app:
        _, done, conversation_id = _ask(app, ANSWERED)
        stored = _stored_answer(app, conversation_id)
    assert done["answered"] is True
    assert [c["n"] for c in done["unsupported_citations"]] == [1]
    assert stored["unsupported_citations"] == done["unsupported_citations"]
    assert (stored["provider"], stored["answered"]) == ("openai", True)


def test_v1_completion_says_whether_it_answered(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    for question, answered in ((UNRELATED, False), (ANSWERED, True)):
        body = {"model": "rag", "messages": [{"role": "user", "content": question}]}
        response = client.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["answered"] is answered
        with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
            chunks = [line for line in r.iter_lines() if line.startswith("data: {")]
        assert f'"answered": {str(answered).lower()}' in chunks[-1]
