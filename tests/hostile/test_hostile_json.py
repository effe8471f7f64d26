"""Regression tests: deeply nested JSON raised RecursionError (a 500, a dropped WebSocket),
and a binary WebSocket frame closed the connection with 1011."""

from __future__ import annotations

import pytest

from app.text import json_input
from tests.helpers import SOLAR_GUIDE, ingest

QUESTION = "How efficient are monocrystalline solar panels?"
DEEP = ["[" * 1000, "[" * 60_000, '{"a":' * 5000, "[" * 1000 + "]" * 1000]


@pytest.mark.parametrize("body", DEEP)
@pytest.mark.parametrize("path", ["/api/chat", "/v1/chat/completions"])
def test_deeply_nested_json_bodies_get_400_malformed_json(client, path, body):
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "malformed_json" and "deeper" in error["message"]


def test_a_hundred_thousand_brackets_to_the_openai_api_get_400(client):
    response = client.post(
        "/v1/chat/completions", content="[" * 100_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"


def test_json_nesting_check_counts_brackets_inside_strings_as_text():
    assert json_input.loads('{"q": "' + "[" * 500 + '"}') == {"q": "[" * 500}
    nested = "[" * json_input.MAX_DEPTH + "]" * json_input.MAX_DEPTH
    assert json_input.loads(nested) is not None


def receive_answer(ws) -> list[dict]:
    events = [ws.receive_json()]
    while events[-1]["type"] not in ("done", "error"):
        events.append(ws.receive_json())
    return events


def test_deeply_nested_websocket_message_gets_an_error_event_and_the_socket_stays_open(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    with client.websocket_connect("/ws/chat") as ws:
        for message in ("[" * 1000, "[" * 60_000):
            ws.send_text(message)
            error = ws.receive_json()
            assert error["type"] == "error" and error["code"] == "malformed_json"
        ws.send_bytes(b'{"type": "ask", "question": "Hi?"}')
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == "binary_frame" and error["message"]
        ws.send_json({"type": "ask", "question": QUESTION})
        assert receive_answer(ws)[-1]["type"] == "done"
