"""The audit log: security events recorded where they happen, read by admins with filters,
append-only, pruned past AUDIT_RETENTION_DAYS."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.auth.people import acting_as, make_person, run_sql, sign_in
from tests.helpers import SOLAR_GUIDE, ingest


def _actions(client, **filters) -> list[str]:
    response = client.get("/api/admin/audit", params=filters)
    assert response.status_code == 200, response.text
    return [event["action"] for event in response.json()["events"]]


def test_security_events_are_recorded_with_actor_address_and_agent(client, settings):
    person = make_person(settings.database_url, "audited@example.org", "editor")
    with acting_as(client, None):
        wrong = {"email": person.email, "password": "not the password at all"}
        assert client.post("/api/auth/login", json=wrong).status_code == 401
    cookie, token = sign_in(client, person.email)
    with acting_as(
        client, {"X-CSRF-Token": token, "User-Agent": "audit-test/1"}, {"session": cookie}
    ):
        made = client.post("/api/account/keys", json={"name": "k"}).json()
        assert client.delete(f"/api/account/keys/{made['prefix']}").status_code == 204
        assert client.post("/api/auth/logout").status_code == 200
    user_id = client.get("/api/admin/users").json()["users"]
    target = next(u["id"] for u in user_id if u["email"] == person.email)
    assert client.patch(f"/api/admin/users/{target}", json={"role": "reader"}).status_code == 200
    assert client.post("/api/admin/invitations", json={"role": "reader"}).status_code == 201
    document = ingest(client, "solar.md", SOLAR_GUIDE)
    assert client.delete(f"/api/documents/{document['id']}").status_code == 204
    assert client.patch("/api/admin/collections/default", json={"visibility": "private"}).is_success

    mine = _actions(client, actor=person.email)
    assert mine == ["sign_out", "key_revoked", "key_created", "sign_in", "sign_in_failed"]
    assert set(_actions(client, actor="admin@example.org")) == {
        "role_changed", "invitation_created", "document_deleted", "collection_sharing_changed"
    }  # fmt: skip
    event = client.get("/api/admin/audit", params={"action": "key_created"}).json()["events"][0]
    assert event["actor"] == person.email and event["user_agent"] == "audit-test/1"
    assert event["address"] and event["target"] == made["prefix"]
    assert _actions(client, since="2999-01-01") == []
    assert client.get("/api/admin/audit", params={"action": "nope"}).status_code == 400
    assert client.get("/api/admin/audit", params={"since": "yesterday"}).status_code == 400
    page = client.get("/admin/audit", params={"actor": person.email})
    assert page.status_code == 200 and "key_created" in page.text
    with acting_as(client, person.headers):
        assert client.get("/api/admin/audit").status_code == 403  # a reader now


def test_only_admins_read_the_audit_log(client, settings):
    editor = make_person(settings.database_url, "curious@example.org", "editor")
    with acting_as(client, editor.headers):
        refused = client.get("/api/admin/audit")
        assert refused.status_code == 403
        assert client.get("/admin/audit").status_code == 403


def test_the_audit_log_is_append_only_and_pruned_past_its_retention(client, settings):
    with acting_as(client, None):
        client.post("/api/auth/login", json={"email": "x@example.org", "password": "wrong one!!"})

    async def tamper() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute("UPDATE audit_log SET actor_email = 'someone else'")
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute("DELETE FROM audit_log")
        finally:
            await conn.close()

    asyncio.run(tamper())
    assert _actions(client) == ["sign_in_failed"]
    # An old event (written as the retention sweep writes) is pruned by the next sweep.
    run_sql(
        settings.database_url,
        "INSERT INTO audit_log (at, action) VALUES (now() - interval '400 days', 'sign_out')",
    )
    from app.db import audit as audit_sql

    async def prune() -> int:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await audit_sql.prune(conn, settings.auth.audit_retention_days)
        finally:
            await conn.close()

    assert asyncio.run(prune()) == 1
    assert _actions(client) == ["sign_in_failed"]
