"""The access table for share links and exports: every kind of caller on their own and on
someone else's conversation; a refused request changes nothing."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg

from tests.auth.people import acting_as
from tests.auth.test_access import ACTORS, SIGNED_OUT, Case, World, _conversation, _counts

# The table's own fixture, registered here under this name.
from tests.auth.test_access import world as world_fixture  # noqa: F401

ROUTES = (
    "GET /api/conversations/{id}/share",
    "POST /api/conversations/{id}/share",
    "DELETE /api/conversations/{id}/share",
    "GET /api/conversations/{id}/export",
    "GET /api/account/export",
    "GET /shared/{token}",
)


def expected(case: Case) -> int:
    own = case.resource == "own"
    if case.route == "GET /shared/{token}":  # a link to the reader's conversation
        # The page is public (a public link needs no sign-in); a signed-out browser is sent
        # to sign in, a refused key answered 401 like everywhere else.
        if case.actor == "revoked_key":
            return 401
        return 303 if case.actor in SIGNED_OUT else 200
    if case.actor in SIGNED_OUT:
        return 401
    if case.route == "GET /api/account/export":
        return 200
    if case.route.startswith("POST"):
        return 201 if own else 404
    if case.route.startswith("DELETE"):
        return 204 if own else 404
    return 200 if own else 404


def perform(client, case: Case, world: World, link: str) -> int:
    conversation = _conversation(world, case)
    if case.route == "GET /shared/{token}":
        return client.get(link, follow_redirects=False).status_code
    if case.route == "GET /api/account/export":
        return client.get("/api/account/export").status_code
    if case.route == "GET /api/conversations/{id}/export":
        return client.get(f"/api/conversations/{conversation}/export?format=json").status_code
    method = case.route.split(" ", 1)[0]
    return client.request(method, f"/api/conversations/{conversation}/share").status_code


async def _shares(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, count(revoked_at) AS revoked FROM conversation_shares"
        )
        return row["n"], row["revoked"]
    finally:
        await conn.close()


def test_share_and_export_routes_answer_each_caller_as_the_table_says(
    client,
    settings,
    world_fixture,  # noqa: F811
):
    world = world_fixture
    reader = world.credentials["reader"][0]
    with acting_as(client, reader):
        made = client.post(f"/api/conversations/{world.conversation['reader']}/share")
    link = urlsplit(made.json()["url"]).path
    cases = [Case(r, a, res) for r in ROUTES for a in ACTORS for res in ("own", "private")]
    # The link first (an owner's DELETE revokes it), then the refused, each checked to change
    # nothing, then the allowed ones.
    cases.sort(key=lambda c: (c.route != "GET /shared/{token}", expected(c) < 400))
    wrong = []
    for case in cases:
        before = (
            asyncio.run(_counts(settings.database_url)),
            asyncio.run(_shares(settings.database_url)),
        )
        headers, cookies = world.credentials[case.actor]
        with acting_as(client, headers, cookies):
            got = perform(client, case, world, link)
        if got != expected(case):
            wrong.append((case, got, expected(case)))
        elif got >= 400:
            after = (
                asyncio.run(_counts(settings.database_url)),
                asyncio.run(_shares(settings.database_url)),
            )
            if after != before:
                wrong.append((case, "changed the database", before, after))
    assert not wrong, "\n".join(map(str, wrong))
