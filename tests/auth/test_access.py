"""Every route x every kind of caller x own / shared / someone else's private resource.

One table of expected statuses; a refused request must change nothing in the database.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from starlette.websockets import WebSocketDisconnect

from tests.auth.people import acting_as, make_person, run_sql, sign_in
from tests.helpers import AUTH, SOLAR_GUIDE, ingest, parse_sse

ACTORS = ("anonymous", "reader", "editor", "admin", "other", "revoked_key", "expired_session")
RESOURCES = ("own", "shared", "private")  # relative to the actor
TABLES = (
    "documents",
    "chunks",
    "jobs",
    "conversations",
    "messages",
    "users",
    "api_keys",
    "sessions",
    "invitations",
    "collections",
    "collection_members",
    "message_feedback",
    "collection_assistants",
)
_counter = itertools.count()


async def _counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}
        # A rename changes no count: the titles themselves are compared too.
        counts["titles"] = await conn.fetchval(
            "SELECT md5(coalesce(string_agg(title, '|' ORDER BY id), '')) FROM conversations"
        )
        return counts
    finally:
        await conn.close()


@dataclass
class World:
    """Who exists and what each of them owns."""

    credentials: dict[str, tuple[dict[str, str], dict[str, str]]]
    collection: dict[tuple[str, str], str]  # (actor, own|shared|private) -> collection name
    document: dict[str, str]  # collection name -> a document id in it
    conversation: dict[str, str]  # actor -> their conversation id
    stream: dict[str, str]  # conversation id -> the Last-Event-ID of its first answer's meta
    answer: dict[str, str]  # conversation id -> its first answer's message id
    chunk: dict[str, int]  # collection name -> a passage (chunk id) of its document


async def _chunk_of(url: str, document_id: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT min(id) FROM chunks WHERE document_id = $1::uuid", document_id
        )
    finally:
        await conn.close()


def _ask(client, body: dict[str, Any]) -> list:
    response = client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    return parse_sse(response.text)


@pytest.fixture
def world(client, settings) -> World:
    url = settings.database_url
    reader = make_person(url, "reader@example.org", "reader")
    editor = make_person(url, "Editor@Example.org", "editor")
    other = make_person(url, "other@example.org", "editor")
    ingest(client, "shared.md", SOLAR_GUIDE)  # the admin, into 'default' (shared)
    documents = {"default": None}
    for person, name in ((editor, "mine"), (other, "theirs")):
        with acting_as(client, person.headers):
            documents[name] = ingest(client, f"{name}.md", f"# {name}\n\n{SOLAR_GUIDE}", name)["id"]
    documents["default"] = client.get("/api/documents").json()["documents"][-1]["id"]
    conversations, streams, answers = {}, {}, {}
    for actor, headers in (
        ("reader", reader.headers),
        ("editor", editor.headers),
        ("other", other.headers),
        ("admin", AUTH),
    ):
        with acting_as(client, headers):
            name, meta, event_id = _ask(client, {"question": "How efficient?"})[0]
            conversations[actor] = meta["conversation_id"]
            streams[meta["conversation_id"]] = event_id
            answers[meta["conversation_id"]] = meta["message_id"]
    # A revoked key and an expired session of the reader.
    revoked = make_person(url, "revoked@example.org", "reader")
    run_sql(url, "UPDATE api_keys SET revoked_at = now() WHERE user_id = $1", revoked.user_id)
    cookie, _ = sign_in(client, reader.email)
    run_sql(url, "UPDATE sessions SET expires_at = now() - interval '1 second'")
    credentials = {
        "anonymous": ({}, {}),
        "reader": (reader.headers, {}),
        "editor": (editor.headers, {}),
        "other": (other.headers, {}),
        "admin": (AUTH, {}),
        "revoked_key": (revoked.headers, {}),
        "expired_session": ({}, {"session": cookie}),
    }
    collection = {}
    for actor in ACTORS:
        own = {"editor": "mine", "other": "theirs"}.get(actor, "default")
        collection[actor, "own"] = own
        collection[actor, "shared"] = "default"
        collection[actor, "private"] = "mine" if actor == "other" else "theirs"
    chunks = {name: asyncio.run(_chunk_of(url, doc)) for name, doc in documents.items()}
    return World(credentials, collection, documents, conversations, streams, answers, chunks)


READABLE = {
    "admin": {"default", "mine", "theirs"},
    "editor": {"default", "mine"},
    "other": {"default", "theirs"},
    "reader": {"default"},
}
WRITABLE = {"admin": {"default", "mine", "theirs"}, "editor": {"mine"}, "other": {"theirs"}}
SIGNED_OUT = ("anonymous", "revoked_key", "expired_session")


@dataclass(frozen=True)
class Case:
    route: str
    actor: str
    resource: str
    mutates: bool = False


def expected(case: Case, world: World) -> int | str:
    """The status a caller must get (or 'open'/'refused' for the WebSocket)."""
    actor, route = case.actor, case.route
    name = world.collection[actor, case.resource]
    if actor in SIGNED_OUT:
        if route == "GET /":
            return 401 if actor == "revoked_key" else 303  # a bad key is refused, not redirected
        return "refused" if route == "WS /ws/chat" else 401
    readable = name in READABLE[actor]
    writable = name in WRITABLE.get(actor, set())
    if route in (
        "GET /api/documents/{id}",
        "GET /api/documents/{id}/file",
        "GET /api/passages/{chunk_id}",
        "GET /api/search",
        "POST /api/chat collection",
    ):
        return 200 if readable else 404
    if route == "DELETE /api/documents/{id}":
        if actor == "reader":  # below the route's declared role: refused before any lookup
            return 403
        return 204 if writable else 403 if readable else 404
    if route in ("POST /api/documents", "POST /api/collections"):
        if actor == "reader":
            return 403
        # A name the caller may read none of makes a collection of their own (names are unique
        # per owner): the same answer whether or not someone's private one has the name.
        return (202 if route == "POST /api/documents" else 201) if writable or not readable else 403
    if route.startswith(
        ("GET /api/conversations/", "POST /api/chat conversation", "GET /api/chat")
    ):
        return 200 if case.resource == "own" else 404
    if route in ("PATCH /api/conversations/{id}", "PUT /api/messages/{id}/feedback"):
        return 200 if case.resource == "own" else 404
    if route == "DELETE /api/conversations/{id}":
        return 204 if case.resource == "own" else 404
    if route in ("GET /api/admin/users", "POST /api/admin/invitations", "GET /api/feedback"):
        return (201 if route.startswith("POST") else 200) if actor == "admin" else 403
    if route.endswith("/api/collections/{name}/assistant"):
        if actor == "reader":  # below the route's declared role: refused before any lookup
            return 403
        # Its owner (editor: mine, other: theirs) or an admin; 'default' has no owner.
        manages = actor == "admin" or (writable and name != "default")
        return 200 if manages else 403 if readable else 404
    if route == "WS /ws/chat":
        return "open"
    return 200


def _conversation(world: World, case: Case) -> str:
    if case.resource == "own":
        return world.conversation.get(case.actor, world.conversation["reader"])
    return world.conversation["reader" if case.actor == "other" else "other"]


def perform(client, case: Case, world: World, document: str | None = None) -> int | str:
    name = world.collection[case.actor, case.resource]
    document = document or world.document[name]
    route = case.route
    if route == "WS /ws/chat":
        try:
            with client.websocket_connect("/ws/chat") as ws:
                ws.send_json({"type": "cancel"})
                return "open"
        except WebSocketDisconnect:
            return "refused"
    if route == "GET /":
        return client.get("/", follow_redirects=False).status_code
    if route == "GET /api/documents/{id}":
        return client.get(f"/api/documents/{document}").status_code
    if route == "GET /api/documents/{id}/file":
        return client.get(f"/api/documents/{document}/file").status_code
    if route == "GET /api/passages/{chunk_id}":
        return client.get(f"/api/passages/{world.chunk[name]}", params={"cite": "x"}).status_code
    if route == "POST /api/render":
        return client.post("/api/render", json={"text": "**Solar** [1]"}).status_code
    if route == "POST /api/collections":
        return client.post("/api/collections", json={"name": name}).status_code
    if route == "PATCH /api/conversations/{id}":
        path = f"/api/conversations/{_conversation(world, case)}"
        return client.patch(path, json={"title": f"renamed {next(_counter)}"}).status_code
    if route == "PUT /api/messages/{id}/feedback":
        message = world.answer[_conversation(world, case)]
        body = {"rating": -1, "comment": f"by {case.actor}"}
        return client.put(f"/api/messages/{message}/feedback", json=body).status_code
    if route == "DELETE /api/documents/{id}":
        return client.delete(f"/api/documents/{document}").status_code
    if route == "POST /api/documents":
        text = f"unique {next(_counter)} {case}"
        files = {"file": ("n.txt", text.encode()), "collection": (None, name)}
        return client.post("/api/documents", files=files).status_code
    if route == "GET /api/search":
        return client.get("/api/search", params={"q": "solar", "collection": name}).status_code
    if route == "POST /api/chat collection":
        body = {"question": "How efficient?", "collection": name}
        return client.post("/api/chat", json=body).status_code
    if route == "POST /api/chat conversation":
        body = {"question": "And cleaning?", "conversation_id": _conversation(world, case)}
        return client.post("/api/chat", json=body).status_code
    if route == "GET /api/chat resume":
        last_event_id = world.stream[_conversation(world, case)]
        return client.get("/api/chat", headers={"Last-Event-ID": last_event_id}).status_code
    if route == "GET /api/conversations/{id}":
        return client.get(f"/api/conversations/{_conversation(world, case)}").status_code
    if route == "DELETE /api/conversations/{id}":
        return client.delete(f"/api/conversations/{_conversation(world, case)}").status_code
    if route == "POST /api/admin/invitations":
        return client.post("/api/admin/invitations", json={"role": "reader"}).status_code
    if route == "GET /api/collections/{name}/assistant":
        return client.get(f"/api/collections/{name}/assistant").status_code
    if route == "PUT /api/collections/{name}/assistant":
        body = {"instructions": f"by {case.actor}", "passages": 3}
        return client.put(f"/api/collections/{name}/assistant", json=body).status_code
    if route == "POST /v1/chat/completions":
        body = {"model": "rag", "messages": [{"role": "user", "content": "How efficient?"}]}
        return client.post("/v1/chat/completions", json=body).status_code
    method, path = route.split(" ", 1)
    return client.request(method, path).status_code


READS = [
    "GET /",
    "GET /api/documents",
    "GET /api/documents/{id}",
    "GET /api/documents/{id}/file",
    "GET /api/passages/{chunk_id}",
    "GET /api/collections",
    "POST /api/render",
    "GET /api/feedback",
    "GET /api/search",
    "POST /api/chat collection",
    "GET /api/conversations",
    "GET /api/conversations/{id}",
    "GET /api/chat resume",
    "GET /v1/models",
    "POST /v1/chat/completions",
    "GET /api/admin/users",
    "GET /api/account/keys",
    "GET /api/auth/me",
    "GET /api/collections/{name}/assistant",
    "WS /ws/chat",
]
CHANGES = [
    "POST /api/documents",
    "DELETE /api/documents/{id}",
    "POST /api/chat conversation",
    "POST /api/collections",
    "PATCH /api/conversations/{id}",
    "PUT /api/messages/{id}/feedback",
    "DELETE /api/conversations/{id}",
    "POST /api/admin/invitations",
    "PUT /api/collections/{name}/assistant",
]


def test_every_route_answers_each_caller_as_the_table_says(client, settings, world):
    cases = [Case(r, a, res) for r in READS for a in ACTORS for res in RESOURCES]
    changes = [Case(r, a, res, True) for r in CHANGES for a in ACTORS for res in RESOURCES]
    wrong = []
    for case in cases:
        headers, cookies = world.credentials[case.actor]
        with acting_as(client, headers, cookies):
            got = perform(client, case, world)
        if got != expected(case, world):
            wrong.append((case, got, expected(case, world)))
    # Refused changes first, each checked to leave every table as it was; then allowed ones.
    # Writes that make the actor a namesake of someone's private collection come last, so the
    # admin (who reads both) finds each name once in the cases before.
    changes.sort(
        key=lambda c: (
            not isinstance(expected(c, world), int) or expected(c, world) < 400,
            _makes_a_namesake(c, world),
        )
    )
    for case in changes:
        want = expected(case, world)
        fresh = None
        if case.route == "DELETE /api/documents/{id}" and want == 204:
            # Its own document to delete, so the collection's stays for the other rows.
            name = world.collection[case.actor, case.resource]
            files = {"file": ("d.txt", f"to delete {case}".encode()), "collection": (None, name)}
            fresh = client.post("/api/documents", files=files).json()["document"]["id"]
        before = asyncio.run(_counts(settings.database_url))
        headers, cookies = world.credentials[case.actor]
        with acting_as(client, headers, cookies):
            got = perform(client, case, world, fresh)
        if got != want:
            wrong.append((case, got, want))
        elif isinstance(want, int) and want >= 400:
            after = asyncio.run(_counts(settings.database_url))
            if after != before:
                wrong.append((case, "changed the database", before, after))
    assert not wrong, "\n".join(map(str, wrong))


def _makes_a_namesake(case: Case, world: World) -> bool:
    name = world.collection[case.actor, case.resource]
    creates = case.route in ("POST /api/documents", "POST /api/collections")
    return creates and name in READABLE["admin"] and name not in READABLE.get(case.actor, ())


def test_lists_show_only_what_the_caller_may_read(client, world):
    for actor in ("reader", "editor", "other", "admin"):
        headers, _ = world.credentials[actor]
        with acting_as(client, headers):
            listed = {d["collection"] for d in client.get("/api/documents").json()["documents"]}
            collections = client.get("/api/collections").json()["collections"]
            models = {m["id"] for m in client.get("/v1/models").json()["data"]}
            conversations = client.get("/api/conversations").json()["conversations"]
            sources = {
                s["document_id"]
                for _, data, _ in parse_sse(
                    client.post("/api/chat", json={"question": "solar panels efficiency"}).text
                )
                for s in data.get("sources", [])
            }
        assert listed == READABLE[actor], actor
        assert {c["name"] for c in collections} == READABLE[actor], actor
        assert models == {"rag", *(f"rag:{name}" for name in READABLE[actor])}, actor
        assert [c["id"] for c in conversations] == [world.conversation[actor]]
        allowed = {world.document[name] for name in READABLE[actor]}
        assert sources and sources <= allowed, actor


def test_document_events_show_a_reader_only_documents_it_may_read(live_server, settings):
    import httpx

    from tests.routes.test_document_events import read_events

    reader = make_person(settings.database_url, "events@example.org", "reader")
    with (
        httpx.Client(base_url=live_server, timeout=120, headers=AUTH) as admin,
        httpx.Client(base_url=live_server, timeout=120, headers=reader.headers) as http,
        http.stream("GET", "/api/documents/events") as stream,
    ):
        lines = stream.iter_lines()
        read_events(lines, lambda name, _: name == "listening")
        files = {"file": ("secret.md", "# Secret\n\nhidden"), "collection": (None, "private1")}
        secret = admin.post("/api/documents", files=files).json()["document"]["id"]
        shared = admin.post("/api/documents", files={"file": ("open.md", "# Open\n\nseen")})
        shared_id = shared.json()["document"]["id"]
        events = read_events(
            lines, lambda name, data: data.get("id") == shared_id and data.get("status") == "ready"
        )
    ids = {data.get("id") for _, data in events}
    assert shared_id in ids and secret not in ids
