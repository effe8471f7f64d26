"""OpenID Connect sign-in against a real OpenID Provider (oidc-provider from npm, its own Node
process on loopback; tests/auth/oidc_server.py): the site served by a real uvicorn, the
provider's login and consent forms walked with httpx here, and with Chromium in
test_oidc_browser.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.auth.oidc_server import CLIENT_ID, CLIENT_SECRET, run_provider, sign_in_at_provider
from tests.conftest import _free_port, run_server, settings_with
from tests.helpers import ADMIN_EMAIL, AUTH

START = "/api/auth/oidc/start"
CALLBACK = "/api/auth/oidc/callback"


def oidc_env(issuer: str) -> dict[str, str]:
    return {
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_NAME": "Test IdP",
        "OIDC_ROLES_CLAIM": "groups",
        "OIDC_ROLE_MAP": "rag-admins=admin,rag-editors=editor",
    }


@pytest.fixture
def oidc_site(settings) -> Iterator[str]:
    """The site with OIDC sign-in, and the provider it trusts (which knows its callback)."""
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    with (
        run_server(settings_with(settings, **oidc_env(issuer))) as site,
        run_provider(port, site + CALLBACK),
    ):
        yield site


def query(settings: Any, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def browser_client(site: str) -> httpx.Client:
    """A cookie jar and no API key: what a browser sends."""
    return httpx.Client(base_url=site, timeout=60, follow_redirects=False)


def callback_url(http: httpx.Client, site: str, login: str) -> str:
    return sign_in_at_provider(http, f"{site}{START}?next=/documents", login, site + CALLBACK)


def test_oidc_sign_in_creates_a_user_with_the_mapped_role_once(oidc_site, settings):
    with browser_client(oidc_site) as http:
        answer = http.get(callback_url(http, oidc_site, "ada"))
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/documents"
        me = http.get("/api/auth/me").json()
        assert me["user"]["email"] == "ada@example.org"
        assert me["user"]["role"] == "editor"  # groups: rag-editors
        assert me["via"] == "session"
    with browser_client(oidc_site) as http:  # again, from another browser
        assert http.get(callback_url(http, oidc_site, "ada")).status_code == 303
    users = query(settings, "SELECT id FROM users WHERE email = 'ada@example.org'")
    assert len(users) == 1
    links = query(settings, "SELECT user_id, subject FROM user_identities")
    assert [(r["user_id"], r["subject"]) for r in links] == [(users[0]["id"], "ada")]
    events = query(settings, "SELECT action, details FROM audit_log ORDER BY id")
    assert [e["action"] for e in events] == ["sign_up", "sign_in", "sign_in"]
    # Read back through the API: the details are an object (they were stored encoded twice).
    with httpx.Client(base_url=oidc_site, headers=AUTH, timeout=30) as admin:
        shown = admin.get("/api/admin/audit", params={"action": "sign_in"}).json()
    assert shown["events"][0]["details"]["via"] == "oidc"


def test_a_callback_in_another_browser_is_refused_as_a_state_mismatch(oidc_site, settings):
    with browser_client(oidc_site) as victim, browser_client(oidc_site) as attacker:
        # The attacker's own sign-in, finished in the victim's browser (a login CSRF).
        url = callback_url(attacker, oidc_site, "ada")
        answer = victim.get(url)
        assert answer.status_code == 400
        assert "start it again" in answer.text
        assert "text/html" in answer.headers["content-type"]
        assert victim.get("/api/auth/me").status_code == 401
    assert query(settings, "SELECT 1 FROM users WHERE email = 'ada@example.org'") == []
    failed = query(settings, "SELECT details FROM audit_log WHERE action = 'sign_in_failed'")
    assert '"state_mismatch"' in failed[0]["details"]


def test_a_forged_state_is_refused(oidc_site):
    with browser_client(oidc_site) as http:
        url = callback_url(http, oidc_site, "ada")
        answer = http.get(url.replace("state=", "state=x"))
        assert answer.status_code == 400
        assert "start it again" in answer.text


def test_a_replayed_callback_is_refused(oidc_site):
    with browser_client(oidc_site) as http:
        url = callback_url(http, oidc_site, "ada")
        cookie = http.cookies.get("oidc_state")
        assert http.get(url).status_code == 303
        http.cookies.set("oidc_state", cookie, path="/api/auth/oidc")
        again = http.get(url)
        assert again.status_code == 400
        assert "start it again" in again.text


def test_an_id_token_with_another_nonce_is_refused(oidc_site, settings):
    with browser_client(oidc_site) as http:
        url = callback_url(http, oidc_site, "ada")
        # As if the ID token had been issued for another sign-in than the one kept here.
        query(settings, "UPDATE oidc_logins SET nonce = 'a-nonce-of-another-sign-in'")
        answer = http.get(url)
        assert answer.status_code == 400
        assert "did not verify" in answer.text
        assert http.get("/api/auth/me").status_code == 401
    assert query(settings, "SELECT 1 FROM users WHERE email = 'ada@example.org'") == []
    failed = query(settings, "SELECT details FROM audit_log WHERE action = 'sign_in_failed'")
    assert "nonce" in failed[0]["details"]


def test_an_unverified_email_neither_creates_nor_links_an_account(oidc_site, settings):
    with browser_client(oidc_site) as http:
        answer = http.get(callback_url(http, oidc_site, "eve"))
        assert answer.status_code == 403
        assert "did not confirm your email address" in answer.text
        assert http.get("/api/auth/me").status_code == 401
    assert query(settings, "SELECT 1 FROM users WHERE email = 'eve@example.org'") == []
    assert query(settings, "SELECT 1 FROM user_identities") == []


def test_a_verified_email_links_the_existing_account(oidc_site, settings):
    before = query(settings, "SELECT id FROM users WHERE email = $1", ADMIN_EMAIL)
    with browser_client(oidc_site) as http:
        assert http.get(callback_url(http, oidc_site, "boss")).status_code == 303
        me = http.get("/api/auth/me").json()["user"]
    assert me == {"id": str(before[0]["id"]), "email": ADMIN_EMAIL, "role": "admin"}
    assert len(query(settings, "SELECT 1 FROM users")) == 1


def test_a_disabled_user_cannot_sign_in_with_oidc(oidc_site, settings):
    with browser_client(oidc_site) as http:
        assert http.get(callback_url(http, oidc_site, "ada")).status_code == 303
        user_id = http.get("/api/auth/me").json()["user"]["id"]
        with httpx.Client(base_url=oidc_site, headers=AUTH, timeout=30) as admin:
            answer = admin.patch(f"/api/admin/users/{user_id}", json={"disabled": True})
            assert answer.json() == {"id": user_id, "role": "editor", "disabled": True}
        assert http.get("/api/auth/me").status_code == 401  # the session ended
    with browser_client(oidc_site) as http:
        answer = http.get(callback_url(http, oidc_site, "ada"))
        assert answer.status_code == 403
        assert "disabled" in answer.text
        assert http.get("/api/auth/me").status_code == 401
    actions = [r["action"] for r in query(settings, "SELECT action FROM audit_log ORDER BY id")]
    assert actions[-2:] == ["user_disabled", "sign_in_failed"]


def test_a_provider_that_is_down_gives_a_page_not_a_500(settings):
    down = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    with (
        run_server(settings_with(settings, **oidc_env(down))) as site,
        browser_client(site) as http,
    ):
        answer = http.get(START)
        assert answer.status_code == 502
        assert "Test IdP could not be reached" in answer.text
        assert "text/html" in answer.headers["content-type"]
        callback = http.get(CALLBACK, params={"code": "x", "state": "y"})
        assert callback.status_code == 400
        assert "start it again" in callback.text


def test_oidc_routes_say_so_when_it_is_not_configured(live_server):
    with browser_client(live_server) as http:
        answer = http.get(START)
        assert answer.status_code == 404
        assert "not configured" in answer.json()["error"]["message"]
        assert "Sign in with" not in http.get("/login").text
