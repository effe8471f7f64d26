"""/ws/chat speaks the same events as the SSE stream."""

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.helpers import AUTH, SOLAR_GUIDE, ingest, parse_sse

QUESTION = "How efficient are monocrystalline solar panels?"


def receive_answer(ws) -> list[dict]:
    events = [ws.receive_json()]
    while events[-1]["type"] not in ("done", "error"):
        events.append(ws.receive_json())
    return events


def test_websocket_answers_with_the_same_events_as_sse(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    with client.stream("POST", "/api/chat", json={"question": QUESTION}) as response:
        sse = parse_sse(response.read().decode())
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "ask", "question": QUESTION})
        events = receive_answer(ws)
    assert [e["type"] for e in events] == [name for name, _, _ in sse]
    ws_answer = "".join(e["text"] for e in events if e["type"] == "token")
    sse_answer = "".join(d["text"] for name, d, _ in sse if name == "token")
    assert ws_answer == sse_answer and "[1]" in ws_answer
    assert events[1]["sources"] == sse[1][1]["sources"]
    assert set(events[0]) == {"type", "conversation_id", "message_id", "provider"}


def test_several_questions_on_one_connection_in_one_conversation(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "ask", "question": QUESTION})
        first = receive_answer(ws)
        conversation_id = first[0]["conversation_id"]
        ws.send_json(
            {"type": "ask", "question": "How often to clean?", "conversation_id": conversation_id}
        )
        second = receive_answer(ws)
    assert second[0]["conversation_id"] == conversation_id
    assert second[-1]["type"] == "done"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "malformed_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('["ask"]', "unknown_type"),
        ('{"type": "ask", "question": ""}', "empty_question"),
        ('{"type": "ask", "question": "Hi?", "conversation_id": "nope"}', "unknown_conversation"),
        ("x" * (70 * 1024), "message_too_large"),
    ],
)
def test_bad_messages_get_an_error_event_and_the_connection_stays_usable(client, message, code):
    ingest(client, "solar.md", SOLAR_GUIDE)
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_text(message)
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == code and error["message"]
        ws.send_json({"type": "ask", "question": QUESTION})
        assert receive_answer(ws)[-1]["type"] == "done"


def test_unknown_websocket_path_is_refused(client):
    with pytest.raises(WebSocketDisconnect) as caught:
        with client.websocket_connect("/ws/elsewhere") as ws:
            ws.receive_json()
    assert caught.value.code == 4404


def test_idle_connection_gets_keepalive_pings(client, monkeypatch):
    monkeypatch.setattr("app.rag.protocol.PING_SECONDS", 0.05)
    with client.websocket_connect("/ws/chat") as ws:
        assert ws.receive_json() == {"type": "ping"}
        ws.send_json({"type": "pong"})
        assert ws.receive_json() == {"type": "ping"}


def test_a_second_ask_while_answering_is_refused_as_busy(client, settings, fake_llm):
    from starlette.testclient import TestClient

    from app.asgi import Application
    from tests.conftest import settings_with

    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(
        settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="slow", LLM_READ_TIMEOUT="60"
    )
    with (
        TestClient(Application(configured), headers=AUTH) as app,
        app.websocket_connect("/ws/chat") as ws,
    ):
        ws.send_json({"type": "ask", "question": QUESTION})
        while ws.receive_json()["type"] != "token":
            pass
        ws.send_json({"type": "ask", "question": QUESTION})
        event = ws.receive_json()
        while event["type"] == "token":
            event = ws.receive_json()
        assert event["type"] == "error" and event["code"] == "busy"
    # Leaving the connection mid-answer closed the upstream request too.
    assert fake_llm.wait_closed(1)
