"""What every response carries, which hosts and origins are refused, keys from the CLI and
the official openai client."""

from __future__ import annotations

import time

import openai
import pytest
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from app.auth.middleware import KEY_CACHE_SECONDS
from tests.auth.people import acting_as, make_person, sign_in
from tests.helpers import AUTH, SOLAR_GUIDE, ingest
from tests.test_cli import run


def test_every_response_has_the_security_headers(client):
    with acting_as(client, None):
        for path in ("/login", "/static/app.js", "/api/documents", "/healthz", "/nowhere"):
            headers = client.get(path).headers
            csp = headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
            assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["referrer-policy"] == "same-origin", path
            assert "strict-transport-security" not in headers  # plain HTTP
    for path in ("/", "/account", "/admin"):
        page = client.get(path)
        assert page.status_code == 200 and "<script>" not in page.text  # no inline script


def test_a_host_outside_allowed_hosts_is_refused(client):
    response = client.get("/api/documents", headers={"Host": "attacker.example"})
    assert response.status_code == 400
    assert "ALLOWED_HOSTS" in response.json()["error"]["message"]
    assert client.get("/api/documents", headers={"Host": "testserver:8000"}).status_code == 200


def test_websocket_with_a_cookie_needs_the_sites_origin(client, settings):
    person = make_person(settings.database_url, "ws@example.org", "reader")
    cookie, _ = sign_in(client, person.email)
    for origin, accepted in (
        ("http://evil.example", False),
        (None, False),
        ("http://testserver", True),
    ):
        headers = {"Origin": origin} if origin else {}
        with acting_as(client, headers, {"session": cookie}):
            if accepted:
                with client.websocket_connect("/ws/chat") as ws:
                    ws.send_json({"type": "cancel"})
            else:
                with pytest.raises(WebSocketDisconnect) as refused:
                    with client.websocket_connect("/ws/chat"):
                        pass
                assert refused.value.code == 1008


def test_websocket_refused_before_accept_on_a_real_server(live_server):
    url = live_server.replace("http://", "ws://") + "/ws/chat"
    with pytest.raises(InvalidStatus) as refused:
        with connect(url, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    with connect(url, additional_headers=AUTH) as ws:
        ws.send('{"type": "cancel"}')


def test_the_openai_client_streams_with_a_key_and_gets_401_without(live_server):
    import httpx

    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
        key = http.post("/api/account/keys", json={"name": "openai"}).json()["key"]
    base = live_server + "/v1"
    with openai.OpenAI(base_url=base, api_key=key, max_retries=0) as client:
        stream = client.chat.completions.create(
            model="rag",
            messages=[{"role": "user", "content": "How efficient are solar panels?"}],
            stream=True,
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
        assert "22 percent" in text
    with openai.OpenAI(base_url=base, api_key="rag_wrong_key", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as refused:
            client.models.list()
        assert "API key is not valid" in str(refused.value)
    with httpx.Client(base_url=live_server, timeout=60) as http:
        anonymous = http.get("/v1/models")
        assert anonymous.status_code == 401 and "Bearer" in anonymous.json()["error"]["message"]


def test_cli_creates_users_and_keys_and_revokes_them(settings, client):
    env = {"DATABASE_URL": settings.database_url}
    created = run(
        "users",
        "create",
        "Cli@Example.org",
        "--role",
        "editor",
        "--password-stdin",
        env=env,
        input="cli password\n",
    )
    assert created.returncode == 0, created.stderr
    listed = run("users", "list", env=env)
    assert "Cli@Example.org\teditor" in listed.stdout
    made = run("keys", "create", "cli@example.org", "--name", "robot", env=env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    with acting_as(client, {"Authorization": f"Bearer {key}"}):
        assert client.get("/api/auth/me").json()["user"]["role"] == "editor"
        prefix = client.get("/api/account/keys").json()["keys"][0]["prefix"]
        assert key.startswith(prefix + "_")
    assert run("keys", "revoke", prefix, env=env).returncode == 0
    # Revoked from another process: the server forgets the key within KEY_CACHE_SECONDS.
    deadline = time.monotonic() + KEY_CACHE_SECONDS + 5
    with acting_as(client, {"Authorization": f"Bearer {key}"}):
        while (status := client.get("/api/auth/me").status_code) != 401:
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
    duplicate = run(
        "users", "create", "CLI@example.org", "--password-stdin", env=env, input="cli password\n"
    )
    assert duplicate.returncode == 1 and "already" in duplicate.stderr
