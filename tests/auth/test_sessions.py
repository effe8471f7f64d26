"""Sign-in, sessions and their cookie, CSRF, the first admin, invitations."""

from __future__ import annotations

import httpx

from tests.auth.people import PASSWORD, acting_as, make_person, run_sql, sign_in
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

SITE = "http://testserver"

# New passwords: 12 characters or more, not common (app/auth/passwords.py).
BOSS, OTHER, NEWCOMER = "a boss passphrase", "b boss passphrase", "a person passphrase"


def _cookie_header(response: httpx.Response) -> str:
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie")


def test_login_sets_an_httponly_samesite_cookie_and_a_wrong_password_gets_401(client):
    with acting_as(client, None):
        response = client.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        flags = _cookie_header(response).lower()
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        assert "secure" not in flags  # plain HTTP here
        assert client.get("/api/auth/me").json()["user"]["email"] == ADMIN_EMAIL
        client.cookies.clear()
        wrong = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": "nope"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["message"] == "the email or password is wrong"
        assert client.get("/api/auth/me").status_code == 401


def test_cookie_is_secure_behind_a_tls_terminating_proxy(live_server):
    # The proxy (here: us, on 127.0.0.1, in FORWARDED_ALLOW_IPS) says the client used https.
    with httpx.Client(base_url=live_server, timeout=60) as http:
        response = http.post(
            "/api/auth/login",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
        )
        assert response.status_code == 200, response.text
        flags = _cookie_header(response).lower()
        assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags
        assert response.headers["strict-transport-security"].startswith("max-age=")
        plain = http.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": "x"})
        assert "strict-transport-security" not in plain.headers


def test_logout_ends_every_session_of_the_user(client, settings):
    person = make_person(settings.database_url, "two@example.org", "reader")
    first, csrf = sign_in(client, person.email)
    second, _ = sign_in(client, person.email)
    with acting_as(client, {"X-CSRF-Token": csrf, "Origin": SITE}, {"session": first}):
        assert client.post("/api/auth/logout", json={}).status_code == 200
    for cookie in (first, second):
        with acting_as(client, None, {"session": cookie}):
            assert client.get("/api/auth/me").status_code == 401
    with acting_as(client, person.headers):  # keys are not sessions: they still work
        assert client.get("/api/auth/me").status_code == 200


def test_password_change_ends_every_other_session(client, settings):
    person = make_person(settings.database_url, "pw@example.org", "reader")
    first, csrf = sign_in(client, person.email)
    second, _ = sign_in(client, person.email)
    with acting_as(client, {"X-CSRF-Token": csrf, "Origin": SITE}, {"session": first}):
        body = {"current_password": PASSWORD, "new_password": "another good one"}
        changed = client.post("/api/account/password", json=body)
        assert changed.status_code == 200, changed.text
        fresh = changed.cookies["session"]
    for cookie in (first, second):
        with acting_as(client, None, {"session": cookie}):
            assert client.get("/api/auth/me").status_code == 401
    with acting_as(client, None, {"session": fresh}):
        assert client.get("/api/auth/me").status_code == 200
    with acting_as(client, None):
        old = client.post("/api/auth/login", json={"email": person.email, "password": PASSWORD})
        assert old.status_code == 401


def test_an_idle_or_expired_session_is_refused(client, settings):
    person = make_person(settings.database_url, "idle@example.org", "reader")
    cookie, _ = sign_in(client, person.email)
    with acting_as(client, None, {"session": cookie}):
        assert client.get("/api/auth/me").status_code == 200
        run_sql(
            settings.database_url,
            "UPDATE sessions SET last_seen_at = now() - make_interval(secs => $1 + 5)",
            float(settings.auth.session_idle_seconds),
        )
        assert client.get("/api/auth/me").status_code == 401
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_a_change_by_cookie_needs_the_csrf_token_and_the_sites_origin(client, settings):
    person = make_person(settings.database_url, "csrf@example.org", "reader")
    cookie, csrf = sign_in(client, person.email)
    attempts = [
        ({}, 403),
        ({"X-CSRF-Token": "guess", "Origin": SITE}, 403),
        ({"X-CSRF-Token": csrf, "Origin": "http://evil.example"}, 403),
        ({"X-CSRF-Token": csrf, "Origin": SITE}, 201),
    ]
    for headers, status in attempts:
        with acting_as(client, headers, {"session": cookie}):
            response = client.post("/api/account/keys", json={"name": "k"})
            assert response.status_code == status, (headers, response.text)
    with acting_as(client, person.headers):
        assert len(client.get("/api/account/keys").json()["keys"]) == 2  # its own, and one


def test_first_visit_creates_the_admin_then_setup_is_closed(client, settings):
    run_sql(settings.database_url, "DELETE FROM users")
    with acting_as(client, None):
        assert client.get("/", follow_redirects=False).headers["location"] == "/setup"
        assert "create the admin account" in client.get("/setup").text
        weak = client.post("/api/auth/setup", json={"email": "a@b.c", "password": "short"})
        assert weak.status_code == 400
        made = client.post("/api/auth/setup", json={"email": "Boss@Site.org", "password": BOSS})
        assert made.status_code == 200 and made.json()["user"]["role"] == "admin"
        assert client.get("/").status_code == 200  # signed in by the setup
        client.cookies.clear()
        again = client.post("/api/auth/setup", json={"email": "x@y.z", "password": OTHER})
        assert again.status_code == 403
        assert client.get("/setup", follow_redirects=False).headers["location"] == "/login"
        login = client.post("/api/auth/login", json={"email": "boss@site.ORG", "password": BOSS})
        assert login.status_code == 200


def test_sign_up_is_by_invitation_and_an_invitation_works_once(client):
    invitation = client.post("/api/admin/invitations", json={"role": "editor"}).json()
    assert invitation["url"].startswith(f"{SITE}/invite/")
    with acting_as(client, None):
        uninvited = client.post("/api/auth/signup", json={"email": "u@x.org", "password": NEWCOMER})
        assert uninvited.status_code == 403
        page = client.get(invitation["url"].removeprefix(SITE))
        assert page.status_code == 200 and "invited as editor" in page.text
        body = {
            "email": "new@x.org",
            "password": NEWCOMER,
            "token": invitation["token"],
        }
        assert client.post("/api/auth/signup", json=body).json()["user"]["role"] == "editor"
        client.cookies.clear()
        body["email"] = "second@x.org"
        assert client.post("/api/auth/signup", json=body).status_code == 404
        duplicate = {"email": "NEW@x.org", "password": NEWCOMER}
    users = client.get("/api/admin/users").json()["users"]
    assert [u["email"] for u in users if u["email"].lower() == "new@x.org"] == ["new@x.org"]
    assert duplicate  # a second account with the same email in another case is refused:
    invitation = client.post("/api/admin/invitations", json={"role": "reader"}).json()
    with acting_as(client, None):
        taken = client.post("/api/auth/signup", json={**duplicate, "token": invitation["token"]})
        assert taken.status_code == 400 and taken.json()["error"]["code"] == "email_taken"


def test_open_sign_up_makes_readers(settings):
    from starlette.testclient import TestClient

    from app.asgi import Application
    from tests.conftest import settings_with

    with TestClient(Application(settings_with(settings, SIGNUP="open"))) as client:
        assert "Create an account" in client.get("/login").text
        body = {"email": "walk-in@example.org", "password": NEWCOMER}
        made = client.post("/api/auth/signup", json=body)
        assert made.status_code == 200 and made.json()["user"]["role"] == "reader"
