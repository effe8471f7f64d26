"""Exports: a conversation as JSON (compared with the stored rows) and as Markdown with
footnotes; an account's data as a zip."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from app.db.pool import init_connection
from tests.auth.people import acting_as, make_person
from tests.files import pdf
from tests.helpers import SOLAR_GUIDE, ingest, parse_sse


def _ask(client, question: str, conversation_id: str | None = None) -> dict:
    body = {"question": question, "conversation_id": conversation_id}
    events = parse_sse(client.post("/api/chat", json=body).text)
    assert events[-1][0] == "done", events
    return events[0][1]


@pytest.fixture
def conversation(client) -> str:
    """A conversation of two answers citing a PDF (pages) and a guide, one of them rated."""
    ingest(client, "solar.md", SOLAR_GUIDE)
    storage = pdf(
        ["Batteries store solar energy for the night.", "Lithium batteries last ten years."]
    )
    ingest(client, "batteries.pdf", storage)
    first = _ask(client, "How long do lithium batteries last?")
    second = _ask(client, "How efficient are monocrystalline panels?", first["conversation_id"])
    rated = client.put(
        f"/api/messages/{second['message_id']}/feedback",
        json={"rating": 1, "comment": "clear, with the percentage"},
    )
    assert rated.status_code == 200, rated.text
    return first["conversation_id"]


async def _stored(url: str, conversation_id: str) -> tuple[Any, list, dict]:
    conn = await asyncpg.connect(url)
    try:
        await init_connection(conn)  # the app's jsonb codec
        head = await conn.fetchrow(
            "SELECT * FROM conversations WHERE id = $1::uuid", conversation_id
        )
        messages = await conn.fetch(
            "SELECT * FROM messages WHERE conversation_id = $1::uuid ORDER BY created_at, id",
            conversation_id,
        )
        feedback = await conn.fetch("SELECT * FROM message_feedback")
        return head, messages, {r["message_id"]: r for r in feedback}
    finally:
        await conn.close()


def _same(stored: Any, exported: Any) -> bool:
    if isinstance(stored, datetime):
        return datetime.fromisoformat(exported) == stored
    if hasattr(stored, "hex"):  # a UUID
        return str(stored) == exported
    return stored == exported


def test_the_json_export_holds_every_stored_message_citation_and_feedback(
    client, settings, conversation
):
    response = client.get(f"/api/conversations/{conversation}/export", params={"format": "json"})
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    exported = response.json()["conversation"]
    head, messages, feedback = asyncio.run(_stored(settings.database_url, conversation))
    assert exported["id"] == conversation and exported["title"] == head["title"]
    assert len(exported["messages"]) == len(messages) == 4
    for row, message in zip(messages, exported["messages"], strict=True):
        for column, value in row.items():
            if column != "conversation_id":
                assert _same(value, message[column]), (column, value, message[column])
        rating = feedback.get(row["id"])
        if rating is None:
            assert message["feedback"] is None
        else:
            for column, value in rating.items():
                if column != "message_id":
                    assert _same(value, message["feedback"][column]), column
    assert sum(m["feedback"] is not None for m in exported["messages"]) == len(feedback) == 1
    cited = [s for m in exported["messages"] for s in m["sources"]]
    assert cited and all({"n", "chunk_id", "document_id", "title"} <= set(s) for s in cited)


def test_the_markdown_export_has_the_answers_with_footnotes_naming_document_and_page(
    client, conversation
):
    response = client.get(f"/api/conversations/{conversation}/export?format=md")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# How long do lithium batteries last?\n")
    assert "> How efficient are monocrystalline panels?" in text
    assert "[^1]" in text and "\n[^1]: **" in text
    assert "\n[^1]: **batteries.pdf**, page 2. “Lithium batteries last ten years.”" in text
    assert "**Solar Panels Guide**" in text
    assert "*Your feedback: helpful: clear, with the percentage*" in text
    # Labels run through the document: no footnote is defined twice.
    definitions = [line.split(":", 1)[0] for line in text.splitlines() if line.startswith("[^")]
    assert len(definitions) == len(set(definitions)) >= 2
    # Every reference has its definition.
    for label in {part.split("]", 1)[0] for part in text.split("[^")[1:]}:
        assert f"\n[^{label}]: " in text


def test_another_users_conversation_cannot_be_exported(client, settings, conversation):
    stranger = make_person(settings.database_url, "stranger@example.org", "reader")
    with acting_as(client, stranger.headers):
        for fmt in ("md", "json"):
            response = client.get(f"/api/conversations/{conversation}/export?format={fmt}")
            assert response.status_code == 404


def test_an_unknown_export_format_says_which_exist(client, conversation):
    response = client.get(f"/api/conversations/{conversation}/export?format=pdf")
    assert response.status_code == 400
    assert "md, json" in response.json()["error"]["message"]


def test_the_account_export_is_a_zip_of_conversations_feedback_and_key_names(
    client, settings, conversation
):
    created = client.post("/api/account/keys", json={"name": "laptop script"}).json()
    response = client.get("/api/account/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"account.json", "conversations.json", "feedback.json", "api_keys.json"} <= names
    conversations = json.loads(archive.read("conversations.json"))
    assert [c["id"] for c in conversations] == [conversation]
    assert len(conversations[0]["messages"]) == 4
    assert json.loads(archive.read("feedback.json"))[0]["comment"] == "clear, with the percentage"
    keys = json.loads(archive.read("api_keys.json"))
    assert "laptop script" in {k["name"] for k in keys}
    everything = b"".join(archive.read(name) for name in names)
    assert created["key"].encode() not in everything  # names only, never a key
    markdown = [n for n in names if n.startswith("conversations/") and n.endswith(".md")]
    assert len(markdown) == 1
    assert archive.read(markdown[0]).decode().startswith("# How long do lithium batteries")
