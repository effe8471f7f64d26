"""An admin disables a user: their sessions end, their keys open nothing, and neither a
password nor (tests/auth/test_oidc.py) an OpenID Provider signs them in; enabled again, they
may sign in."""

from __future__ import annotations

from tests.auth.people import PASSWORD, acting_as, make_person, sign_in
from tests.helpers import ADMIN_EMAIL


def test_a_disabled_user_cannot_sign_in_nor_use_a_session_or_key(client, settings):
    bob = make_person(settings.database_url, "bob@example.org", "reader")
    cookie, _ = sign_in(client, bob.email)
    answer = client.patch(f"/api/admin/users/{bob.user_id}", json={"disabled": True})
    assert answer.json() == {"id": str(bob.user_id), "role": "reader", "disabled": True}
    with acting_as(client, None, {"session": cookie}):
        assert client.get("/api/auth/me").status_code == 401
    with acting_as(client, bob.headers):
        assert client.get("/api/auth/me").status_code == 401
    with acting_as(client, None):
        login = {"email": bob.email, "password": PASSWORD}
        refused = client.post("/api/auth/login", json=login)
        assert refused.status_code == 403
        assert "disabled" in refused.json()["error"]["message"]
    users = {u["email"]: u for u in client.get("/api/admin/users").json()["users"]}
    assert users[bob.email]["disabled"] is True
    actions = [e["action"] for e in client.get("/api/admin/audit").json()["events"]]
    assert "user_disabled" in actions

    assert client.patch(f"/api/admin/users/{bob.user_id}", json={"disabled": False}).status_code
    with acting_as(client, bob.headers):
        assert client.get("/api/auth/me").json()["user"]["email"] == bob.email
    with acting_as(client, None):
        assert client.post("/api/auth/login", json=login).status_code == 200


def test_an_admin_cannot_disable_themselves(client):
    me = client.get("/api/auth/me").json()["user"]
    assert me["email"] == ADMIN_EMAIL
    answer = client.patch(f"/api/admin/users/{me['id']}", json={"disabled": True})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "last_admin"


def test_a_user_update_without_role_or_disabled_is_refused(client, settings):
    bob = make_person(settings.database_url, "bob@example.org", "reader")
    answer = client.patch(f"/api/admin/users/{bob.user_id}", json={"disabled": "yes"})
    assert answer.status_code == 400
    assert "disabled" in answer.json()["error"]["message"]
