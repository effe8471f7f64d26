"""The security review's findings (issue 22), each a regression test named after it."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.auth.passwords import check_new
from app.errors import BadRequest, RefusedURL
from app.infra.logging import TextFormatter
from app.ingest.fetch import check_url
from tests.auth.people import acting_as, make_person, sign_in
from tests.conftest import settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, ingest, parse_sse


def _answer(ws) -> dict:
    """The WebSocket's events up to the answer's end (done) or an error."""
    while True:
        event = ws.receive_json()
        if event["type"] in ("done", "error"):
            return event


# Medium: the WebSocket ask limit counted a message only when its raw text held "ask".
def test_ws_ask_limit_counts_a_unicode_escaped_type(settings):
    limited = settings_with(settings, RATE_LIMIT_ASKS="2/day")
    with TestClient(Application(limited, local=True), headers=AUTH) as client:
        ingest(client, "solar.md", SOLAR_GUIDE)
        with client.websocket_connect("/ws/chat") as ws:
            sneaky = '{"type": "\\u0061sk", "question": "How efficient are solar panels?"}'
            outcomes = []
            for _ in range(3):
                ws.send_text(sneaky)
                outcomes.append(_answer(ws))
    assert [e["type"] for e in outcomes[:2]] == ["done", "done"]
    assert outcomes[2]["type"] == "error" and outcomes[2]["code"] == "rate_limited"


# Low: GET /api/chat asked with only the session cookie (SameSite=Lax sends it on a link).
def test_get_chat_with_only_the_session_cookie_is_refused(client, settings):
    ingest(client, "solar.md", SOLAR_GUIDE)
    person = make_person(settings.database_url, "victim@example.org", "reader")
    cookie, token = sign_in(client, person.email)
    ask = {"question": "How efficient are solar panels?"}
    with acting_as(client, {}, {"session": cookie}):
        planted = client.get("/api/chat", params=ask)
        assert planted.status_code == 403 and planted.json()["error"]["code"] == "csrf"
        cross = client.get("/api/chat", params=ask, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        own_page = client.get("/api/chat", params=ask, headers={"Sec-Fetch-Site": "same-origin"})
        assert own_page.status_code == 200 and parse_sse(own_page.text)[-1][0] == "done"
        with_token = client.get("/api/chat", params={**ask, "csrf_token": token})
        assert with_token.status_code == 200
    with acting_as(client, person.headers):  # a key is never sent by a browser on its own
        assert client.get("/api/chat", params=ask).status_code == 200


# Low: invitation tokens were written to the access log (GET /invite/<token>).
def test_invitation_token_never_reaches_the_access_log(client, caplog):
    token = client.post("/api/admin/invitations", json={"role": "admin"}).json()["token"]
    with caplog.at_level(logging.INFO, logger="app.access"), acting_as(client, None):
        assert client.get(f"/invite/{token}").status_code == 200
        assert client.get(f"/invite/{token}x").status_code == 404
    lines = [TextFormatter().format(r) for r in caplog.records if r.name == "app.access"]
    assert len(lines) == 2 and all("/invite/[redacted]" in line for line in lines)
    assert not any(token in line for line in lines)


# Low: a %0d%0a in the request path forged whole log lines in the text format.
def test_crlf_in_the_path_cannot_forge_a_log_line(client, caplog):
    forged = "/nowhere%0d%0a2026-01-01 00:00:00,000 INFO app.access: GET /admin 200"
    with caplog.at_level(logging.INFO, logger="app.access"):
        client.get(forged)
        client.get("/api/documents/%1b%5b2J%e2%80%a8x")  # terminal escapes, U+2028
    lines = [TextFormatter().format(r) for r in caplog.records if r.name == "app.access"]
    assert len(lines) == 2
    for line in lines:
        assert "\n" not in line and "\r" not in line and "\x1b" not in line
        assert "\u2028" not in line
    assert "\\r\\n2026-01-01" in lines[0]


# Low: URL-ingestion refusals named the resolved internal address and told "does not resolve"
# apart from "refused": an oracle of the internal DNS.
async def test_url_refusals_do_not_tell_internal_names_from_unresolvable_ones():
    messages = []
    for url in ("http://localhost/", "http://127.0.0.1/", "http://no-such-host.invalid/"):
        with pytest.raises(RefusedURL) as refused:
            await check_url(url, allow_private=False)
        messages.append(refused.value.message.replace(url, "URL"))
    assert len(set(messages)) == 1, messages
    assert "127.0.0.1" not in messages[0] and "does not resolve to a public" in messages[0]


# Low: a password change left every API key and other session alive; any key could mint keys.
def test_password_change_ends_other_sessions_and_revokes_keys(client, settings):
    person = make_person(settings.database_url, "changer@example.org", "editor")
    other_browser, _ = sign_in(client, person.email)
    cookie, token = sign_in(client, person.email)
    with acting_as(client, {"X-CSRF-Token": token}, {"session": cookie}):
        changed = client.post(
            "/api/account/password",
            json={"current_password": "a good password", "new_password": "a new long passphrase"},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["keys_revoked"] == 1
    with acting_as(client, {}, {"session": other_browser}):
        assert client.get("/api/auth/me").status_code == 401
    with acting_as(client, person.headers):
        assert client.get("/api/auth/me").status_code == 401


def test_a_key_without_the_keys_scope_cannot_create_keys(client, settings):
    person = make_person(settings.database_url, "minter@example.org", "editor")
    with acting_as(client, person.headers):
        refused = client.post("/api/account/keys", json={"name": "more"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"
    cookie, token = sign_in(client, person.email)
    with acting_as(client, {"X-CSRF-Token": token}, {"session": cookie}):
        made = client.post("/api/account/keys", json={"name": "minter", "scopes": ["keys"]})
        assert made.status_code == 201 and made.json()["scopes"] == ["keys"]
    with acting_as(client, {"Authorization": f"Bearer {made.json()['key']}"}):
        assert client.post("/api/account/keys", json={"name": "child"}).status_code == 201


# Low: passwords of 8 characters like "aaaaaaaa" were accepted.
@pytest.mark.parametrize(
    "weak",
    ["aaaaaaaa", "short pass", "aaaaaaaaaaaa", "abababababab", "password1234", "Qwerty123456"],
)
def test_short_repetitive_and_common_passwords_are_refused(weak):
    with pytest.raises(BadRequest) as refused:
        check_new(weak)
    assert refused.value.code == "weak_password"
    assert check_new("violet kettle on the moor") == "violet kettle on the moor"


# Low: no per-account sign-in throttle (only per address).
def test_sign_ins_to_one_account_from_many_addresses_are_limited(settings):
    limited = settings_with(settings, RATE_LIMIT_ACCOUNT_LOGINS="3/hour")
    wrong = {"email": "admin@example.org", "password": "not the password"}
    # From the proxy (FORWARDED_ALLOW_IPS), each attempt from a new address.
    app = Application(limited, local=True)
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        statuses = [
            client.post(
                "/api/auth/login", json=wrong, headers={"X-Forwarded-For": f"203.0.113.{n}"}
            ).status_code
            for n in range(4)
        ]
    assert statuses == [401, 401, 401, 429]


# Low: no Cache-Control: no-store on signed-in pages and API responses.
def test_signed_in_responses_are_not_cached(client):
    for path in ("/", "/account", "/api/documents", "/api/auth/me"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    assert "no-store" not in client.get("/static/app.js").headers.get("cache-control", "")


# Low: nosniff was sent twice on file downloads.
def test_file_download_sends_each_security_header_once(client):
    document = ingest(client, "solar.md", SOLAR_GUIDE)
    response = client.get(f"/api/documents/{document['id']}/file")
    assert response.status_code == 200
    names = [name.lower() for name, _ in response.headers.multi_items()]
    assert names.count("x-content-type-options") == 1
    assert names.count("content-security-policy") == 1
