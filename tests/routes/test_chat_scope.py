"""Chat scoped to a collection or to chosen documents, over SSE and WebSocket."""

import pytest

from tests.helpers import ingest, parse_sse, row_counts

TEA = "Green tea is brewed at eighty degrees for two minutes to keep it sweet."
COFFEE = "Espresso is brewed at ninety degrees under nine bars of pressure."
QUESTION = "At what temperature is it brewed?"


def source_titles(events) -> set[str]:
    sources = next(data for name, data, _ in events if name == "sources")["sources"]
    return {s["title"] for s in sources}


@pytest.fixture
def two_collections(client):
    tea = ingest(client, "tea.txt", TEA, collection="tea")
    coffee = ingest(client, "coffee.txt", COFFEE, collection="coffee")
    return tea, coffee


def test_sse_chat_in_one_collection_cites_only_it(client, two_collections):
    for collection, title in (("tea", "tea.txt"), ("coffee", "coffee.txt")):
        body = {"question": QUESTION, "collection": collection}
        with client.stream("POST", "/api/chat", json=body) as response:
            events = parse_sse(response.read().decode())
        assert source_titles(events) == {title}
        assert events[-1][0] == "done"
    with client.stream("POST", "/api/chat", json={"question": QUESTION}) as response:
        assert source_titles(parse_sse(response.read().decode())) == {"tea.txt", "coffee.txt"}


def test_get_form_and_websocket_take_chosen_documents(client, two_collections):
    tea, coffee = two_collections
    params = {"question": QUESTION, "document_id": coffee["id"]}
    with client.stream("GET", "/api/chat", params=params) as response:
        assert source_titles(parse_sse(response.read().decode())) == {"coffee.txt"}
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "ask", "question": QUESTION, "document_ids": [tea["id"]]})
        events = [ws.receive_json()]
        while events[-1]["type"] not in ("done", "error"):
            events.append(ws.receive_json())
    sources = next(e for e in events if e["type"] == "sources")["sources"]
    assert {s["title"] for s in sources} == {"tea.txt"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"question": QUESTION, "collection": "nope"}, 404, "unknown_collection"),
        ({"question": QUESTION, "collection": "../x"}, 400, "bad_collection"),
        ({"question": QUESTION, "document_ids": "not-a-list"}, 400, "bad_documents"),
        ({"question": QUESTION, "document_ids": ["not-a-uuid"]}, 400, "bad_documents"),
    ],
)
def test_bad_scope_is_refused_before_the_stream_and_stores_nothing(
    client, settings, two_collections, body, status, code
):
    before = row_counts(settings.database_url)
    response = client.post("/api/chat", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert row_counts(settings.database_url) == before
