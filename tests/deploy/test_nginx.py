"""Nginx (deploy/nginx.conf) in front of real gunicorn with two workers, over TLS."""

from __future__ import annotations

import json
import socket
import ssl

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.deploy.client import ask
from tests.deploy.conftest import ANSWER
from tests.helpers import AUTH


def test_first_token_reaches_the_client_while_the_llm_is_still_writing(stack, fake_upstream):
    with stack.client(timeout=30) as client:
        with client.stream("POST", "/api/chat", json={"question": "How efficient?"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line == "event: token":
                    # Unbuffered: the token is here while the upstream is still producing.
                    assert fake_upstream.producing > 0
                    break
            else:
                raise AssertionError("no token arrived")


def test_a_whole_answer_streams_through_nginx(stack):
    with stack.client(timeout=30) as client:
        answer = ask(client, "How efficient are monocrystalline panels?")
    assert answer.ended == "done", answer.events
    assert answer.text == "".join(ANSWER)


def test_websocket_chat_works_through_nginx(stack):
    url = stack.https.replace("https://", "wss://") + "/ws/chat"
    with connect(url, ssl=stack.tls(), open_timeout=10, additional_headers=AUTH) as ws:
        ws.send(json.dumps({"type": "ask", "question": "How efficient are the panels?"}))
        text, kinds = "", []
        while True:
            message = json.loads(ws.recv(timeout=30))
            kinds.append(message["type"])
            if message["type"] == "token":
                text += message["text"]
            if message["type"] in ("done", "error"):
                break
    assert kinds[-1] == "done", kinds
    assert text == "".join(ANSWER)


def test_an_oversized_websocket_frame_is_refused_unread_and_the_worker_goes_on(stack):
    """A 4 MiB frame (uvicorn's default would read up to 16 MiB into memory) closes the
    connection with 1009 as soon as its header is read; the next WebSocket is served."""
    url = stack.gunicorn.replace("http://", "ws://") + "/ws/chat"
    with connect(url, open_timeout=10, additional_headers=AUTH, max_size=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.send("x" * (4 * 1024 * 1024))
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009, closed.value
    with connect(url, open_timeout=10, additional_headers=AUTH) as ws:
        ws.send(json.dumps({"type": "ask", "question": "How efficient are the panels?"}))
        while (message := json.loads(ws.recv(timeout=30)))["type"] not in ("done", "error"):
            pass
    assert message["type"] == "done", message


def test_an_upload_at_the_size_limit_passes_and_a_larger_one_is_refused_by_nginx(stack):
    limit = 1024 * 1024  # MAX_UPLOAD_MB=1
    line = b"Panels and inverters need a yearly inspection by a qualified person.\n"
    at_limit = (line * (limit // len(line) + 1))[:limit]
    with stack.client(timeout=60) as client:
        passed = client.post("/api/documents", files={"file": ("big.txt", at_limit)})
        assert passed.status_code == 202, passed.text
        refused = client.post("/api/documents", files={"file": ("huge.txt", at_limit * 3)})
    assert refused.status_code == 413
    assert "x-request-id" not in refused.headers  # the app never saw it: Nginx answered
    error = refused.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "MAX_UPLOAD_MB" in error["message"]


def test_plain_http_is_redirected_to_https(stack):
    response = httpx.get(f"{stack.http}/api/search?q=x")
    assert response.status_code == 301
    assert response.headers["location"] == f"{stack.https}/api/search?q=x"


def test_tls_is_modern_and_the_metrics_stay_inside(stack):
    with stack.client() as client:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert client.get("/metrics").status_code == 404  # not passed on to the app
    host, port = stack.https.removeprefix("https://").split(":")
    for highest, expected in ((None, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2")):
        context = stack.tls()
        if highest is not None:
            context.maximum_version = highest
        with socket.create_connection((host, int(port))) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                assert tls.version() == expected
                cipher = tls.cipher()[0]
                assert "GCM" in cipher or "CHACHA20" in cipher, cipher  # AEAD only
