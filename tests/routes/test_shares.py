"""Share links: a read-only snapshot for other signed-in users, revocable, optionally expiring
or public; cited passages open only for viewers who may read them."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg
import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from tests.auth.people import acting_as, make_person, run_sql
from tests.conftest import settings_with
from tests.helpers import SOLAR_GUIDE, ingest, parse_sse

SECRET = "# Vault\n\nThe vault code is 4711 and the vault opens at dawn."


def _ask(client, question: str, **extra) -> dict:
    events = parse_sse(client.post("/api/chat", json={"question": question, **extra}).text)
    assert events[-1][0] == "done", events
    return events[0][1]


def _path(url: str) -> str:
    return urlsplit(url).path


@pytest.fixture
def people(client, settings):
    owner = make_person(settings.database_url, "owner@example.org", "editor")
    viewer = make_person(settings.database_url, "viewer@example.org", "reader")
    ingest(client, "solar.md", SOLAR_GUIDE)  # the admin's, in 'default' (shared)
    with acting_as(client, owner.headers):
        ingest(client, "vault.md", SECRET, "vault")  # the owner's private collection
        meta = _ask(client, "What is the vault code and how efficient are panels?")
    return owner, viewer, meta["conversation_id"]


def test_another_user_reads_the_snapshot_but_not_the_conversation(client, people):
    owner, viewer, conversation = people
    with acting_as(client, owner.headers):
        created = client.post(f"/api/conversations/{conversation}/share")
        assert created.status_code == 201, created.text
        share = created.json()
        assert share["public"] is False and share["expires_at"] is None
        # After the snapshot: a follow-up and a new title the link must not show.
        _ask(client, "Is the cleaning schedule twice a year?", conversation_id=conversation)
        client.patch(f"/api/conversations/{conversation}", json={"title": "Renamed later"})
    with acting_as(client, viewer.headers):
        page = client.get(_path(share["url"]))
        assert client.get(f"/api/conversations/{conversation}").status_code == 404
    assert page.status_code == 200, page.text
    assert "What is the vault code and how efficient are panels?" in page.text
    assert "22 percent" in page.text  # the answer, as it was
    assert "cleaning schedule" not in page.text and "Renamed later" not in page.text
    # The vault passage is cited but not the viewer's to read; the shared one is.
    assert "This source is not available to you" in page.text
    assert "opens at dawn" not in page.text.split("Sources", 1)[1]
    assert "Polycrystalline panels are cheaper" in page.text
    with acting_as(client, owner.headers):
        own_view = client.get(_path(share["url"])).text
    assert "not available to you" not in own_view


def test_a_revoked_link_stops_working_and_only_the_owner_may_revoke(client, settings, people):
    owner, viewer, conversation = people
    with acting_as(client, owner.headers):
        url = client.post(f"/api/conversations/{conversation}/share").json()["url"]
    with acting_as(client, viewer.headers):
        assert client.get(_path(url)).status_code == 200
        assert client.delete(f"/api/conversations/{conversation}/share").status_code == 404
        assert client.post(f"/api/conversations/{conversation}/share").status_code == 404
        assert client.get(_path(url)).status_code == 200
    with acting_as(client, owner.headers):
        links = client.get(f"/api/conversations/{conversation}/share").json()["links"]
        assert [link["public"] for link in links] == [False]
        assert client.delete(f"/api/conversations/{conversation}/share").status_code == 204
        assert client.get(f"/api/conversations/{conversation}/share").json() == {"links": []}
    with acting_as(client, viewer.headers):
        assert client.get(f"/api/conversations/{conversation}/share").status_code == 404
        gone = client.get(_path(url))
    assert gone.status_code == 404 and "revoked" in gone.text
    assert asyncio.run(_count(settings.database_url)) == 1  # the viewer's tries made none


def test_deleting_the_conversation_deletes_its_links(client, people):
    owner, viewer, conversation = people
    with acting_as(client, owner.headers):
        url = client.post(f"/api/conversations/{conversation}/share").json()["url"]
        assert client.delete(f"/api/conversations/{conversation}").status_code == 204
    with acting_as(client, viewer.headers):
        assert client.get(_path(url)).status_code == 404


async def _count(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM conversation_shares")
    finally:
        await conn.close()


def test_an_expired_link_stops_working(client, settings, people):
    owner, viewer, conversation = people
    with acting_as(client, owner.headers):
        share = client.post(
            f"/api/conversations/{conversation}/share", json={"expires_in_days": 7}
        ).json()
    assert share["expires_at"] is not None
    with acting_as(client, viewer.headers):
        assert client.get(_path(share["url"])).status_code == 200
        run_sql(
            settings.database_url,
            "UPDATE conversation_shares SET expires_at = now() - interval '1 second'",
        )
        assert client.get(_path(share["url"])).status_code == 404


def test_signed_out_viewers_are_sent_to_sign_in_unless_public_links_are_allowed(
    client, settings, people
):
    owner, _, conversation = people
    with acting_as(client, owner.headers):
        url = client.post(f"/api/conversations/{conversation}/share").json()["url"]
        refused = client.post(f"/api/conversations/{conversation}/share", json={"public": True})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "public_links_off"
    with acting_as(client, None):
        redirected = client.get(_path(url), follow_redirects=False)
    assert redirected.status_code == 303
    assert redirected.headers["location"] == f"/login?next={_path(url)}"

    allowed = settings_with(settings, PUBLIC_SHARE_LINKS="true")
    with TestClient(Application(allowed), headers=owner.headers) as public_site:
        url = public_site.post(
            f"/api/conversations/{conversation}/share", json={"public": True}
        ).json()["url"]
        with acting_as(public_site, None):
            page = public_site.get(_path(url))
            private = public_site.get(f"/api/conversations/{conversation}")
    # The answer as it was stored (its wording is the answerer's, not this test's business).
    assert page.status_code == 200 and "The vault code is 4711" in page.text
    assert "to open the sources your account may read" in page.text
    assert "Polycrystalline panels are cheaper" not in page.text.split("Sources", 1)[1]
    assert private.status_code == 401


def test_an_unknown_token_is_a_plain_404(client):
    assert client.get("/shared/not-a-token").status_code == 404


@pytest.mark.parametrize(
    "body",
    [{"expires_in_days": 0}, {"expires_in_days": 366}, {"expires_in_days": "7"},
     {"expires_in_days": True}, {"public": "yes"}, [1]],
)  # fmt: skip
def test_bad_share_options_are_refused_with_what_to_send(client, people, body):
    owner, _, conversation = people
    with acting_as(client, owner.headers):
        response = client.post(f"/api/conversations/{conversation}/share", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]


def test_sharing_someone_elses_or_no_conversation_is_404(client):
    assert client.post("/api/conversations/nope/share").status_code == 404
    missing = "/api/conversations/00000000-0000-0000-0000-000000000000/share"
    assert client.post(missing).status_code == 404
    assert client.delete(missing).status_code == 404


def test_a_revoked_key_on_a_share_link_gets_401_not_the_sign_in_page(client, settings, people):
    owner, viewer, conversation = people
    with acting_as(client, owner.headers):
        link = _path(client.post(f"/api/conversations/{conversation}/share").json()["url"])
    run_sql(settings.database_url, "UPDATE api_keys SET revoked_at = now()")
    with acting_as(client, viewer.headers):
        refused = client.get(link, follow_redirects=False)
    assert refused.status_code == 401
    assert "revoked" in refused.text
    with acting_as(client, None):  # a browser without a session still goes to sign in
        anonymous = client.get(link, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/login?next={link}"
