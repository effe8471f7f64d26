"""Smoke test through a real uvicorn server on loopback: HTTP, SSE as it streams, WebSocket."""

import json

import httpx
from websockets.sync.client import connect

from tests.helpers import AUTH, SOLAR_GUIDE, ingest


def test_real_server_uploads_searches_and_streams(live_server):
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
        assert "Ask a question" in client.get("/").text
        document = ingest(client, "solar.md", SOLAR_GUIDE)
        results = client.get("/api/search", params={"q": "monocrystalline efficiency"}).json()
        assert results["results"][0]["document_id"] == document["id"]

        names, text = [], ""
        with client.stream(
            "POST", "/api/chat", json={"question": "How efficient are panels?"}
        ) as r:
            assert r.headers["cache-control"] == "no-store"
            for line in r.iter_lines():
                if line.startswith("event:"):
                    names.append(line[6:].strip())
                elif line.startswith("data:") and names[-1] == "token":
                    text += json.loads(line[5:])["text"]
        assert names[:2] == ["meta", "sources"] and names[-1] == "done"
        assert "[1]" in text

    ws_url = live_server.replace("http://", "ws://") + "/ws/chat"
    with connect(ws_url, additional_headers=AUTH) as ws:
        ws.send(json.dumps({"type": "ask", "question": "How efficient are panels?"}))
        events = [json.loads(ws.recv(timeout=60))]
        while events[-1]["type"] not in ("done", "error"):
            events.append(json.loads(ws.recv(timeout=60)))
    assert events[-1]["type"] == "done"
    assert "".join(e.get("text", "") for e in events) == text
