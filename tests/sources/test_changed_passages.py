"""A stored answer whose cited passage was edited (a re-synced folder file) or removed says "this
passage has changed since this answer": in the conversation, on opening the citation, on the
share page; never a 404 or the new text."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

from app.db.passages import changed, digest
from tests.auth.people import acting_as, make_person, run_sql
from tests.helpers import parse_sse

GUIDE = """# River guide

Herons eat fish and frogs along the river bank, standing still for hours.
"""
EDITED = """# River guide

Herons now hunt voles in the meadows behind the new dam.
"""


def _synced(client, source_id: int, before: str | None) -> dict:
    """The source once a sync that ended after `before` is recorded and none is waiting."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for source in client.get("/api/sources").json()["sources"]:
            done = source["last_sync_at"] and source["last_sync_at"] != before
            if source["id"] == source_id and done and source["sync_status"] is None:
                return source
        time.sleep(0.2)
    raise AssertionError(f"source {source_id} did not sync")


def _sync(client, source: dict) -> dict:
    assert client.post(f"/api/sources/{source['id']}/sync").status_code == 202
    return _synced(client, source["id"], source["last_sync_at"])


def _river(client, roots: Path) -> tuple[Path, dict]:
    folder = roots / "river"
    folder.mkdir()
    (folder / "guide.md").write_text(GUIDE)
    body = {"kind": "folder", "name": "river", "path": str(folder)}
    added = client.post("/api/sources", json=body)
    assert added.status_code == 201, added.text
    return folder, _sync(client, added.json()["source"])


def _ask(client, question: str) -> tuple[str, dict]:
    """(conversation id, the cited source the answer kept)."""
    events = parse_sse(client.post("/api/chat", json={"question": question}).text)
    assert events[-1][0] == "done", events
    source = events[1][1]["sources"][0]
    assert "fish and frogs" in client.get(f"/api/passages/{source['chunk_id']}").text
    return events[0][1]["conversation_id"], source


def _answer(client, conversation: str) -> dict:
    return client.get(f"/api/conversations/{conversation}").json()["conversation"]["messages"][1]


def test_a_citation_of_a_passage_edited_since_says_it_changed(client, roots: Path):
    folder, source = _river(client, roots)
    conversation, cited = _ask(client, "What do herons eat?")
    assert re.fullmatch(r"[0-9a-f]{64}", cited["digest"]), cited
    kept = _answer(client, conversation)  # Postgres's digest of the text is the answer's
    assert kept["sources"][0]["digest"] == cited["digest"] and kept["changed_sources"] == []
    opened = client.get(f"/api/passages/{cited['chunk_id']}", params={"digest": cited["digest"]})
    assert opened.status_code == 200 and "fish and frogs" in opened.text

    (folder / "guide.md").write_text(EDITED)
    synced = _sync(client, source)
    assert synced["last_counts"]["changed"] == 1, synced

    assert _answer(client, conversation)["changed_sources"] == [cited["n"]]
    gone = client.get(
        f"/api/passages/{cited['chunk_id']}",
        params={"digest": cited["digest"], "cite": "Herons eat fish"},
    )
    assert gone.status_code == 410, gone.text
    assert gone.json()["error"]["code"] == "passage_changed"
    assert "changed since this answer" in gone.json()["error"]["message"]
    assert "voles" not in gone.text  # never the new text in place of the cited one
    # A client that sends no digest gets what it always got.
    assert client.get(f"/api/passages/{cited['chunk_id']}").status_code == 404

    (folder / "guide.md").unlink()  # gone upstream: its document goes, still "changed"
    assert _sync(client, synced)["last_counts"]["removed"] == 1
    assert _answer(client, conversation)["changed_sources"] == [cited["n"]]


def test_a_passage_rewritten_under_the_same_id_is_changed_too(client, settings, roots: Path):
    _river(client, roots)
    conversation, cited = _ask(client, "What do herons eat?")
    run_sql(
        settings.database_url,
        "UPDATE chunks SET text = 'Herons eat voles.' WHERE id = $1",
        cited["chunk_id"],
    )
    assert _answer(client, conversation)["changed_sources"] == [cited["n"]]
    response = client.get(f"/api/passages/{cited['chunk_id']}", params={"digest": cited["digest"]})
    assert response.status_code == 410 and "voles" not in response.text


def test_an_unreadable_passage_with_a_digest_answers_like_a_changed_one(
    client, settings, roots: Path
):
    _, cited = _ask_in_river(client, roots)
    reader = make_person(settings.database_url, "reader@example.org", "reader")
    run_sql(settings.database_url, "UPDATE collections SET visibility = 'private'")
    with acting_as(client, reader.headers):
        unreadable = client.get(
            f"/api/passages/{cited['chunk_id']}", params={"digest": cited["digest"]}
        )
        missing = client.get("/api/passages/999999", params={"digest": cited["digest"]})
    # The same answer whether the passage exists or not: a digest is no way to probe ids.
    assert unreadable.status_code == missing.status_code == 410
    assert unreadable.json() == missing.json()


def _ask_in_river(client, roots: Path) -> tuple[str, dict]:
    _river(client, roots)
    return _ask(client, "What do herons eat?")


def test_the_share_page_says_a_cited_passage_changed(client, settings, roots: Path):
    folder, source = _river(client, roots)
    conversation, _ = _ask(client, "What do herons eat?")
    share = client.post(f"/api/conversations/{conversation}/share").json()
    page = client.get(urlsplit(share["url"]).path).text
    assert "fish and frogs" in page and "changed since this answer" not in page

    (folder / "guide.md").write_text(EDITED)
    _sync(client, source)
    page = client.get(urlsplit(share["url"]).path).text
    assert "This passage has changed since this answer" in page
    assert "voles" not in page


def test_stored_citations_without_a_digest_are_changed_only_when_gone():
    now = {7: digest("text")}
    assert not changed({"n": 1, "chunk_id": 7}, now)  # answered before digests were kept
    assert changed({"n": 1, "chunk_id": 8}, now)
    assert not changed({"n": 1, "chunk_id": 7, "digest": digest("text")}, now)
    assert changed({"n": 1, "chunk_id": 7, "digest": digest("other")}, now)
    assert not changed({"n": 1}, now)  # nothing to open: nothing to say
