"""/mcp with the MCP SDK's own client over HTTP, against a real uvicorn on loopback."""

from __future__ import annotations

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from app.mcp.transport import KEY_ONLY
from tests.auth.people import make_person, sign_in
from tests.conftest import run_server, settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, ingest
from tests.mcp.client import data, mcp_client, outcome


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server, headers=AUTH, timeout=120) as client:
        yield client


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026-07-28 exchanges; the handshake
async def test_the_client_lists_the_tools_searches_asks_with_progress_and_reads_citations(
    live_server, http, mode
):
    ingest(http, "solar.md", SOLAR_GUIDE)
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    async with mcp_client(live_server, AUTH, mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == {"search", "ask", "list_collections", "get_passage"}
        assert tools["search"].input_schema["required"] == ["query"]
        assert tools["search"].annotations.read_only_hint is True
        assert tools["ask"].annotations.read_only_hint is False  # it stores a conversation

        found = data(await client.call_tool("search", {"query": "efficiency", "k": 2}))
        assert len(found["results"]) == 2
        assert found["results"][0]["title"] == "Solar Panels Guide"
        assert "22 percent" in found["results"][0]["text"]

        collections = data(await client.call_tool("list_collections", {}))
        assert collections == {"collections": [{"name": "default", "id": 1, "document_count": 1}]}

        answer = data(
            await client.call_tool(
                "ask",
                {"question": "How efficient are monocrystalline panels?"},
                progress_callback=on_progress,
            )
        )
        assert "22 percent" in answer["answer"] and "[1]" in answer["answer"]
        assert answer["answered"] is True
        first = answer["citations"][0]
        assert first["n"] == 1 and first["title"] == "Solar Panels Guide"
        # The progress notifications carried the answer as it was written.
        assert progress[0] == (0, "searching the documents")
        assert "".join(message or "" for _, message in progress[1:]) == answer["answer"]

        passage = data(await client.call_tool("get_passage", {"id": first["chunk_id"]}))
        assert "22 percent" in passage["passage"]["text"]

        follow_up = data(
            await client.call_tool(
                "ask",
                {
                    "question": "And how often to clean them?",
                    "conversation_id": answer["conversation_id"],
                },
            )
        )
        assert follow_up["conversation_id"] == answer["conversation_id"]
    # Stored as the key owner's conversation, as an ask from the chat page would be.
    stored = http.get(f"/api/conversations/{answer['conversation_id']}").json()["conversation"]
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"] * 2
    assert stored["messages"][1]["content"] == answer["answer"]
    assert stored["messages"][1]["sources"] == answer["citations"]


async def test_an_mcp_answer_stream_is_logged_as_done_not_cut(live_server, http, caplog):
    """The access log and stream metrics read a stream's last event: an MCP stream ends with
    a JSON-RPC response (`event: message`), which is a finished stream."""
    ingest(http, "solar.md", SOLAR_GUIDE)

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        pass

    with caplog.at_level("INFO", logger="app.access"):
        async with mcp_client(live_server, AUTH) as client:
            data(
                await client.call_tool(
                    "ask", {"question": "How efficient?"}, progress_callback=on_progress
                )
            )
    ended = [
        getattr(r, "stream_ended", None)
        for r in caplog.records
        if r.name == "app.access" and getattr(r, "path", None) == "/mcp"
    ]
    assert "done" in ended and "cut" not in ended, ended


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic YTpi"}],
    ids=["no key", "unknown key", "not bearer"],
)
async def test_without_a_valid_key_there_is_no_session(live_server, headers):
    statuses: list[int] = []
    with pytest.raises(ExceptionGroup) as refused:
        async with mcp_client(live_server, headers, statuses=statuses) as client:
            await client.list_tools()
    assert refused.group_contains(MCPError)
    assert statuses and set(statuses) == {401}
    raw = httpx.post(f"{live_server}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert raw.status_code == 401 and raw.headers["www-authenticate"] == "Bearer"


def test_a_browser_session_is_not_a_key_even_with_its_csrf_token(live_server, settings):
    """A signed-in page could otherwise drive the MCP tools as its user."""
    person = make_person(settings.database_url, "browser@example.org", "reader")
    with httpx.Client(base_url=live_server, timeout=60) as browser:
        cookie, csrf = sign_in(browser, person.email)
        browser.cookies.set("session", cookie)
        response = browser.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"x-csrf-token": csrf, "accept": "application/json, text/event-stream"},
        )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["message"] == KEY_ONLY


@pytest.fixture
def owner_and_stranger(settings):
    return (
        make_person(settings.database_url, "owner@example.org", "editor"),
        make_person(settings.database_url, "stranger@example.org", "editor"),
    )


async def test_another_users_private_collection_does_not_exist_for_the_caller(
    live_server, http, owner_and_stranger
):
    owner, stranger = owner_and_stranger
    http.headers.update(owner.headers)
    ingest(http, "secret.md", "# Secret plans\n\nThe vault code is 4711.", "vault")
    async with mcp_client(live_server, owner.headers) as client:
        found = data(
            await client.call_tool("search", {"query": "vault code", "collection": "vault"})
        )
        chunk = found["results"][0]["chunk_id"]
    async with mcp_client(live_server, stranger.headers) as client:
        for name, arguments in [
            ("search", {"query": "vault code", "collection": "vault"}),
            ("ask", {"question": "What is the vault code?", "collection": "vault"}),
            ("get_passage", {"id": chunk}),
        ]:
            assert outcome(await client.call_tool(name, arguments))[0] == 404, name
        listed = data(await client.call_tool("list_collections", {}))["collections"]
        everywhere = data(await client.call_tool("search", {"query": "vault code 4711"}))
    assert "vault" not in {c["name"] for c in listed}
    assert all("4711" not in r["text"] for r in everywhere["results"])


async def test_bad_arguments_get_an_error_that_says_what_to_fix(live_server):
    async with mcp_client(live_server, AUTH) as client:
        cases = {
            ("search", "k"): {"query": "x", "k": 0},
            ("search", "empty_query"): {"query": "   "},
            ("search", "bad_collection"): {"query": "x", "collection": "no such/name"},
            ("ask", "empty_question"): {"question": ""},
            ("ask", "unknown_conversation"): {"question": "Why?", "conversation_id": "nope"},
            ("ask", "unknown_collection"): {"question": "Why?", "collection": "nowhere"},
            ("get_passage", "id"): {"id": "seven"},
            ("get_passage", "less than or equal"): {"id": 2**63},
        }
        for (name, said), arguments in cases.items():
            result = await client.call_tool(name, arguments)
            assert result.is_error, (name, arguments)
            assert said in result.content[0].text, result.content  # type: ignore[union-attr]


async def test_tool_calls_count_against_the_same_rate_limits_as_the_http_api(settings):
    limited = settings_with(settings, RATE_LIMIT_SEARCHES="2/minute", RATE_LIMIT_ASKS="1/minute")
    with run_server(limited) as url:
        with httpx.Client(base_url=url, headers=AUTH, timeout=60) as http:
            assert http.get("/api/search", params={"q": "solar"}).status_code == 200
            async with mcp_client(url, AUTH) as client:
                assert outcome(await client.call_tool("search", {"query": "solar"}))[0] == 200
                assert outcome(await client.call_tool("search", {"query": "solar"})) == (
                    429,
                    "rate_limited",
                )
                assert outcome(await client.call_tool("ask", {"question": "Why?"}))[0] == 200
                assert outcome(await client.call_tool("ask", {"question": "Why?"}))[0] == 429
            assert http.get("/api/search", params={"q": "solar"}).status_code == 429
            assert http.post("/api/chat", json={"question": "Why?"}).status_code == 429
