"""The `openai` provider against real OpenAI-compatible servers on loopback: a second instance
of this app, and a fake that misbehaves on purpose (tests/fake_llm.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.llm.base import LLMError, Passage
from app.llm.openai import REWRITE_MAX_TOKENS, OpenAILLM
from tests.conftest import run_server, settings_with
from tests.fake_llm import REWRITTEN, FakeLLM
from tests.helpers import ADMIN_KEY, AUTH, SOLAR_GUIDE, ingest, parse_sse, row_counts

QUESTION = "How efficient are monocrystalline solar panels?"
FOLLOWUP = "And how often are they cleaned?"
# The fake's answer to QUESTION as it joins a follow-up's context (citation markers dropped).
FIRST_ANSWER = "Monocrystalline panels convert about 22 percent of sunlight."


@pytest.fixture
def llm_app(settings, fake_llm):
    """Start the app with LLM_MODEL=<behaviour of the fake server>; the caller closes it."""
    clients: list[TestClient] = []

    def start(model: str, **env: str) -> TestClient:
        configured = settings_with(
            settings,
            LLM_BASE_URL=fake_llm.url,
            LLM_MODEL=model,
            LLM_READ_TIMEOUT=env.pop("LLM_READ_TIMEOUT", "2"),
            **env,
        )
        client = TestClient(Application(configured, local=True), headers=AUTH)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def ask(client, question=QUESTION, conversation_id=None):
    body = {"question": question}
    if conversation_id:
        body["conversation_id"] = conversation_id
    with client.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200
        return parse_sse(response.read().decode())


def answer_of(events) -> str:
    return "".join(data["text"] for name, data, _ in events if name == "token")


@pytest.fixture
def upstream_app(live_server) -> Iterator[str]:
    """A second instance of this app (extractive), on a real uvicorn, as the model server."""
    yield live_server + "/v1"


def test_openai_provider_streams_from_a_second_instance_of_this_app(
    settings, live_server, upstream_app
):
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as upstream:
        ingest(upstream, "solar.md", SOLAR_GUIDE)
        expected = answer_of(
            parse_sse(upstream.post("/api/chat", json={"question": QUESTION}).text)
        )
    configured = settings_with(
        settings, LLM_BASE_URL=upstream_app, LLM_MODEL="rag", LLM_API_KEY=ADMIN_KEY
    )
    with TestClient(Application(configured), headers=AUTH) as client:
        events = ask(client)
    names = [name for name, _, _ in events]
    assert names[:2] == ["meta", "sources"] and names[-1] == "done"
    assert events[0][1]["provider"] == "openai"
    assert answer_of(events) == expected and "22 percent" in expected
    assert events[-1][1]["unsupported_citations"] == []


def test_prompt_numbers_the_sources_with_titles_and_asks_for_citations(client, llm_app, fake_llm):
    ingest(client, "solar.md", SOLAR_GUIDE)
    events = ask(llm_app("ok"))
    assert events[-1][0] == "done"
    assert answer_of(events) == "".join(fake_llm.answer)
    system, user = fake_llm.requests[-1]["messages"]
    assert user == {"role": "user", "content": QUESTION}
    assert "[1] Solar Panels Guide" in system["content"] or "[1] solar" in system["content"]
    assert "cite" in system["content"].lower() and "do not answer" in system["content"]
    assert fake_llm.requests[-1]["stream"] is True


def test_an_uncited_claim_is_listed_as_unsupported(client, fake_llm, llm_app):
    ingest(client, "solar.md", SOLAR_GUIDE)
    fake_llm.answer = [
        "Panels convert about 22 percent of sunlight [1].",
        " The football world cup of 1998 was won by France [1].",
    ]
    done = ask(llm_app("ok"))[-1]
    assert done[0] == "done"
    unsupported = done[1]["unsupported_citations"]
    assert [c["n"] for c in unsupported] == [1]
    assert "football" in unsupported[0]["sentence"]


def test_a_citation_of_a_source_that_does_not_exist_is_unsupported(client, fake_llm, llm_app):
    ingest(client, "solar.md", SOLAR_GUIDE)
    fake_llm.answer = ["Panels convert about 22 percent of sunlight [7]."]
    unsupported = ask(llm_app("ok"))[-1][1]["unsupported_citations"]
    assert unsupported == [
        {"n": 7, "sentence": "Panels convert about 22 percent of sunlight", "similarity": None}
    ]


def test_tokens_that_arrive_together_are_sent_as_one_event(client, llm_app, fake_llm):
    # A worker that falls behind finds several tokens in one read: one event, not one each.
    ingest(client, "solar.md", SOLAR_GUIDE)
    events = ask(llm_app("burst"))
    tokens = [data["text"] for name, data, _ in events if name == "token"]
    assert "".join(tokens) == "".join(fake_llm.answer)
    assert len(tokens) < len(fake_llm.answer)
    assert events[-1][0] == "done"


def test_retry_before_the_first_token(client, llm_app, fake_llm):
    ingest(client, "solar.md", SOLAR_GUIDE)
    events = ask(llm_app("flaky"))
    assert events[-1][0] == "done" and fake_llm.count("flaky") == 2


@pytest.mark.parametrize(
    ("model", "code", "hint", "attempts"),
    [
        ("http500", "upstream_error", "HTTP 500 (model overloaded)", 3),
        ("http401", "upstream_error", "LLM_API_KEY", 1),
        ("stall-headers", "upstream_timeout", "LLM_READ_TIMEOUT", 3),
        ("stall", "upstream_timeout", "LLM_READ_TIMEOUT", 1),  # after a token: no retry
        ("cut", "upstream_cut", "ask again", 1),
        ("badjson", "upstream_malformed", "LLM_BASE_URL", 1),
    ],
)
def test_upstream_failures_end_the_stream_with_an_actionable_error(
    client, llm_app, fake_llm, settings, model, code, hint, attempts
):
    ingest(client, "solar.md", SOLAR_GUIDE)
    app = llm_app(model, LLM_READ_TIMEOUT="0.5")
    before = row_counts(settings.database_url)
    events = ask(app)
    name, error, _ = events[-1]
    assert name == "error" and error["code"] == code and hint in error["message"]
    assert fake_llm.count(model) == attempts
    after = row_counts(settings.database_url)
    # The question is kept, and what was streamed before the failure (kept as an interrupted
    # answer); nothing else changed or was lost.
    streamed = any(name == "token" for name, _, _ in events)
    assert after == {**before, "conversations": 1, "messages": 1 + streamed}


def test_unreachable_model_server_is_an_error_event(client, settings):
    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(
        settings, LLM_BASE_URL="http://127.0.0.1:9/v1", LLM_CONNECT_TIMEOUT="1"
    )
    with TestClient(Application(configured), headers=AUTH) as app:
        name, error, _ = ask(app)[-1]
    assert name == "error" and error["code"] == "upstream_unreachable"
    assert "LLM_BASE_URL" in error["message"]


def test_followup_is_rewritten_into_a_standalone_question(client, llm_app, fake_llm):
    ingest(client, "solar.md", SOLAR_GUIDE)
    app = llm_app("ok")
    first = ask(app)
    second = ask(app, "And how often are they cleaned?", first[0][1]["conversation_id"])
    assert second[-1][0] == "done"
    rewrite, answer = fake_llm.requests[-2:]
    history = rewrite["messages"][1]["content"]
    assert QUESTION in history and "And how often are they cleaned?" in history
    assert rewrite["max_tokens"] == REWRITE_MAX_TOKENS  # one sentence, not LLM_MAX_TOKENS
    assert answer["messages"][1]["content"] == REWRITTEN
    # The rewritten question found the maintenance passage.
    assert "twice a year" in answer["messages"][0]["content"]


def _followup_after_rewrite(client, llm_app, fake_llm, model: str) -> dict:
    """The answer request of a follow-up whose rewrite the fake server spoils."""
    ingest(client, "solar.md", SOLAR_GUIDE)
    app = llm_app(model, LLM_READ_TIMEOUT="0.5")
    first = ask(app)
    second = ask(app, FOLLOWUP, first[0][1]["conversation_id"])
    assert second[-1][0] == "done" and answer_of(second)
    rewrites = [r for r in fake_llm.requests if r["messages"][0]["content"].startswith("Rewrite")]
    assert rewrites and fake_llm.requests[-1] not in rewrites
    return fake_llm.requests[-1]


@pytest.mark.parametrize("model", ["rewrite-500", "rewrite-stall"])
def test_a_failed_rewrite_falls_back_to_searching_with_the_conversation(
    client, llm_app, fake_llm, model
):
    answer = _followup_after_rewrite(client, llm_app, fake_llm, model)
    # Searched and asked as without a model: the follow-up, the earlier turns as context.
    assert answer["messages"][1]["content"] == f"{FOLLOWUP} ({QUESTION} {FIRST_ANSWER})"
    assert "twice a year" in answer["messages"][0]["content"]


@pytest.mark.parametrize("model", ["rewrite-empty", "rewrite-refuses", "rewrite-rambles"])
def test_a_reply_that_is_no_rewrite_falls_back_to_searching_with_the_conversation(
    client, llm_app, fake_llm, model
):
    answer = _followup_after_rewrite(client, llm_app, fake_llm, model)
    assert answer["messages"][1]["content"] == f"{FOLLOWUP} ({QUESTION} {FIRST_ANSWER})"
    assert "twice a year" in answer["messages"][0]["content"]


def test_client_disconnect_closes_the_upstream_request(settings, fake_llm, client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(
        settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="slow", LLM_READ_TIMEOUT="60"
    )
    with (
        run_server(configured) as url,
        httpx.Client(base_url=url, timeout=60, headers=AUTH) as http,
    ):
        with http.stream("POST", "/api/chat", json={"question": QUESTION}) as response:
            for line in response.iter_lines():
                if line.startswith("event: token"):
                    break
        # The read timeout is 60 s and the fake streams forever: only the disconnect ends it.
        assert fake_llm.wait_closed(1, timeout=20)


def test_websocket_cancel_closes_the_upstream_request(client, llm_app, fake_llm):
    ingest(client, "solar.md", SOLAR_GUIDE)
    app = llm_app("slow", LLM_READ_TIMEOUT="60")
    with app.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "ask", "question": QUESTION})
        while ws.receive_json()["type"] != "token":
            pass
        ws.send_json({"type": "cancel"})
        event = ws.receive_json()
        while event["type"] == "token":
            event = ws.receive_json()
        assert event == {"type": "error", "code": "cancelled", "message": event["message"]}
        assert fake_llm.wait_closed(1, timeout=20)
        ws.send_text("{oops")
        assert ws.receive_json()["code"] == "malformed_json"


def test_bad_llm_settings_name_the_variable():
    from app.config import ConfigError, load_settings

    for env, name in [
        ({"LLM_BASE_URL": "127.0.0.1:8080"}, "LLM_BASE_URL"),
        ({"LLM_PROVIDER": "openai"}, "LLM_BASE_URL"),
        ({"LLM_PROVIDER": "gpt"}, "LLM_PROVIDER"),
        ({"LLM_READ_TIMEOUT": "soon"}, "LLM_READ_TIMEOUT"),
        ({"LLM_CONTEXT_TOKENS": "0"}, "LLM_CONTEXT_TOKENS"),
    ]:
        with pytest.raises(ConfigError, match=name):
            load_settings(env)
    assert load_settings({}).llm_provider == "extractive"
    assert load_settings({"LLM_BASE_URL": "http://127.0.0.1:1/v1/"}).llm_provider == "openai"


def test_sources_trimmed_to_the_context_budget(client, llm_app, fake_llm):
    long_doc = "# Long\n\n" + "\n\n".join(
        f"Solar panel fact number {i}: monocrystalline panels are efficient. " * 20
        for i in range(6)
    )
    ingest(client, "long.md", long_doc)
    events = ask(llm_app("ok", LLM_CONTEXT_TOKENS="700"))
    system = fake_llm.requests[-1]["messages"][0]["content"]
    numbered = re.findall(r"^\[(\d+)\] ", system, flags=re.M)
    sources = events[1][1]["sources"]
    # The sources event lists exactly the passages the model saw, numbered the same way.
    assert numbered == [str(s["n"]) for s in sources] and 1 <= len(sources) < 5
    assert len(system) // 4 <= 700


PASSAGE = Passage(1, "d", "Solar guide", SOLAR_GUIDE, SOLAR_GUIDE[:80], None, [], 1.0)


async def test_tokens_that_pile_up_while_the_answer_is_busy_leave_as_one_delta(settings, fake_llm):
    # A busy worker sends what arrived meanwhile as one event, not one event per token.
    llm = OpenAILLM(settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="slow"))
    try:
        stream = llm.stream(QUESTION, [PASSAGE])
        first = await anext(stream)
        await asyncio.sleep(0.3)  # the upstream sends a token every 20 ms meanwhile
        second = await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await llm.aclose()
    assert first == " word" and second == " word" * second.count(" word")
    assert second.count(" word") >= 3


async def test_a_busy_answer_gets_the_text_before_an_upstream_error_and_then_the_error(
    settings, fake_llm
):
    llm = OpenAILLM(settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="cut"))
    deltas = []
    try:
        with pytest.raises(LLMError) as raised:
            async for delta in llm.stream(QUESTION, [PASSAGE]):
                await asyncio.sleep(0.3)  # the cut arrives while this one is busy
                deltas.append(delta)
    finally:
        await llm.aclose()
    assert deltas == [fake_llm.answer[0]] and raised.value.code == "upstream_cut"


async def test_closing_an_answer_early_closes_its_upstream_request(settings, fake_llm):
    llm = OpenAILLM(settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="slow"))
    try:
        stream = llm.stream(QUESTION, [PASSAGE])
        assert await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        assert await asyncio.to_thread(fake_llm.wait_closed, 1, 5)
    finally:
        await llm.aclose()


@pytest.mark.parametrize("model", ["gzip", "raw-unicode"])
async def test_a_compressed_body_or_raw_line_separators_in_json_arrive_intact(settings, model):
    # U+2028 is a line break to str.splitlines(), but only LF ends an SSE line.
    answer = ["Panels\u2028convert", " 22\u2029percent", " of sunlight [1]."]
    with FakeLLM(answer=answer) as fake:
        llm = OpenAILLM(settings_with(settings, LLM_BASE_URL=fake.url, LLM_MODEL=model))
        try:
            deltas = [delta async for delta in llm.stream(QUESTION, [PASSAGE])]
        finally:
            await llm.aclose()
    assert "".join(deltas) == "".join(answer)
