"""The route x caller access table of tests/auth/test_access.py, run through the MCP tools.

Each tool stands for the HTTP route it mirrors, and must answer every kind of caller, on their
own, a shared and someone else's private resource, with the status that route answers; a
refused call changes nothing in the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.auth.test_access import (
    ACTORS,
    READABLE,
    RESOURCES,
    Case,
    World,
    _conversation,
    _counts,
    expected,
)

# The table's own fixture, registered here under this name.
from tests.auth.test_access import world as world_fixture  # noqa: F401
from tests.helpers import AUTH
from tests.mcp.client import data, mcp_client, outcome

# tool -> the HTTP route whose row of the table it must follow
MIRRORS = {
    "search": "GET /api/search",
    "ask collection": "POST /api/chat collection",
    "ask conversation": "POST /api/chat conversation",
    "get_passage": "GET /api/passages/{chunk_id}",
    "list_collections": "GET /api/collections",
}


@pytest.fixture
def client(live_server) -> Iterator[httpx.Client]:
    """The table's world is built over HTTP against the same uvicorn the MCP client talks to."""
    with httpx.Client(base_url=live_server, headers=AUTH, timeout=120) as http:
        yield http


def _call(tool: str, case: Case, world: World) -> tuple[str, dict[str, Any]]:
    name = world.collection[case.actor, case.resource]
    if tool == "search":
        return "search", {"query": "solar", "collection": name}
    if tool == "ask collection":
        return "ask", {"question": "How efficient?", "collection": name}
    if tool == "ask conversation":
        conversation = _conversation(world, case)
        return "ask", {"question": "And cleaning?", "conversation_id": conversation}
    if tool == "get_passage":
        return "get_passage", {"id": world.chunk[name]}
    return "list_collections", {}


def _headers(world: World, actor: str) -> dict[str, str]:
    headers, cookies = world.credentials[actor]
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return {**headers, **({"Cookie": cookie} if cookie else {})}


async def _outcomes(base: str, world: World, actor: str, url: str) -> list[tuple[Case, Any]]:
    """(case, what MCP answered) for every tool and resource, as `actor`."""
    cases = [Case(tool, actor, resource) for tool in MIRRORS for resource in RESOURCES]
    statuses: list[int] = []
    try:
        async with mcp_client(base, _headers(world, actor), statuses=statuses) as client:
            got = []
            for case in cases:
                tool, arguments = _call(case.route, case, world)
                before = await _counts(url)
                result = await client.call_tool(tool, arguments)
                status, _ = outcome(result)
                if status >= 400 and await _counts(url) != before:
                    status = "changed the database"  # type: ignore[assignment]
                if status == 200 and tool == "list_collections":
                    names = {c["name"] for c in data(result)["collections"]}
                    if names != READABLE[actor]:
                        status = f"listed {sorted(names)}"  # type: ignore[assignment]
                got.append((case, status))
            return got
    except ExceptionGroup as failed:  # no session: every call is refused, as the connection was
        assert statuses and set(statuses) == {401}, (actor, statuses, failed.exceptions)
        return [(case, 401) for case in cases]


def test_every_tool_answers_each_caller_as_the_http_table_says(
    live_server,
    settings,
    world_fixture,  # noqa: F811
):
    world = world_fixture
    wrong = []
    for actor in ACTORS:
        got = asyncio.run(_outcomes(live_server, world, actor, settings.database_url))
        for case, status in got:
            want = expected(Case(MIRRORS[case.route], case.actor, case.resource), world)
            if status != want:
                wrong.append((case, status, want))
    assert not wrong, "\n".join(map(str, wrong))
