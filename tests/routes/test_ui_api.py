"""The routes the web UI reads: stored files with Range, rendered answers, cited passages,
feedback, conversation rename and search, document pages and collections."""

from __future__ import annotations

import uuid

from tests.files import pdf
from tests.helpers import SOLAR_GUIDE, ingest, parse_sse


def ask(client, question, conversation_id=None):
    body = {"question": question, "conversation_id": conversation_id}
    with client.stream("POST", "/api/chat", json=body) as response:
        return parse_sse(response.read().decode())


def test_original_file_streams_whole_and_by_byte_range(client):
    data = pdf(["Page one about solar.", "Page two about wind."], title="Energy")
    document = ingest(client, "energy report.pdf", data)
    url = f"/api/documents/{document['id']}/file"

    whole = client.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "application/pdf"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].startswith('inline; filename="energy report.pdf"')

    part = client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = client.get(url, headers={"Range": "bytes=-7"})
    assert tail.status_code == 206 and tail.content == data[-7:]
    open_ended = client.get(url, headers={"Range": f"bytes={len(data) - 3}-"})
    assert open_ended.content == data[-3:]
    beyond = client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
    # Like every 4xx of the API: a JSON error with a message (schemathesis' check in tests/fuzz).
    assert beyond.json()["error"]["code"] == "range_not_satisfiable"
    assert "outside" in beyond.json()["error"]["message"]

    assert client.get(f"/api/documents/{uuid.uuid4()}/file").status_code == 404


def test_large_file_is_sent_in_pieces(client, monkeypatch):
    from app.routes import documents_file

    monkeypatch.setattr(documents_file, "PIECE", 1000)
    text = "".join(f"Line {i} says something about solar panels.\n" for i in range(400))
    document = ingest(client, "long.txt", text)
    with client.stream("GET", f"/api/documents/{document['id']}/file") as response:
        pieces = list(response.iter_raw())
    assert b"".join(pieces) == text.encode()
    assert len(text) > 15_000 and len(pieces) >= len(text) // 1000
    html_doc = ingest(client, "page.html", "<html><title>T</title><p>Solar text here.</p></html>")
    html = client.get(f"/api/documents/{html_doc['id']}/file")
    assert html.headers["content-disposition"].startswith("attachment")  # never inline HTML


def test_rendered_answer_escapes_html_and_turns_citations_into_buttons(client):
    text = "**Yes** [1] <script>alert(1)</script>\n\n| a | b |\n|---|---|\n| x | y [2] |\n\n`v[3]`"
    html = client.post("/api/render", json={"text": text}).json()["html"]
    assert "<strong>Yes</strong>" in html and "<table>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<button type="button" class="cite" data-n="1">[1]</button>' in html
    assert 'data-n="2"' in html and "<code>v[3]</code>" in html
    link = client.post("/api/render", json={"text": "[x](javascript:alert(1))"}).json()["html"]
    assert "href" not in link  # not a link: the text stays as it was


def test_passage_highlights_the_cited_sentence(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    events = ask(client, "How often should panels be cleaned?")
    source = next(data for name, data, _ in events if name == "sources")["sources"][0]
    claim = "Panels should be cleaned twice a year."
    passage = client.get(f"/api/passages/{source['chunk_id']}", params={"cite": claim}).json()
    passage = passage["passage"]
    start, end = passage["highlight"]
    assert passage["text"][start:end].startswith("Panels should be cleaned twice a year")
    assert passage["title"] == "Solar Panels Guide" and passage["source"] == "solar.md"
    assert not passage["text"].startswith("#")  # the heading path says it
    assert passage["heading_path"][-1] == "Maintenance"
    assert client.get("/api/passages/999999").status_code == 404


def test_feedback_is_stored_per_answer_and_listed(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    meta = ask(client, "How efficient are monocrystalline panels?")[0][1]
    url = f"/api/messages/{meta['message_id']}/feedback"
    assert client.put(url, json={"rating": 1}).status_code == 200
    assert client.put(url, json={"rating": -1, "comment": "Too short."}).status_code == 200
    assert client.put(url, json={"rating": 5}).status_code == 400
    assert (
        client.put(f"/api/messages/{uuid.uuid4()}/feedback", json={"rating": 1}).status_code == 404
    )
    (item,) = client.get("/api/feedback").json()["feedback"]
    assert item["rating"] == -1 and item["comment"] == "Too short."
    assert item["question"] == "How efficient are monocrystalline panels?"
    conversation = client.get(f"/api/conversations/{meta['conversation_id']}").json()
    answer = conversation["conversation"]["messages"][1]
    assert answer["rating"] == -1 and 'class="cite"' in answer["html"]


def test_rename_and_search_conversations(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    first = ask(client, "How efficient are panels?")[0][1]["conversation_id"]
    ask(client, "How often are they cleaned?")
    renamed = client.patch(f"/api/conversations/{first}", json={"title": "  Solar   efficiency "})
    assert renamed.json()["conversation"]["title"] == "Solar efficiency"
    found = client.get("/api/conversations", params={"q": "SOLAR"}).json()["conversations"]
    assert [c["id"] for c in found] == [first]
    assert client.patch(f"/api/conversations/{first}", json={"title": ""}).status_code == 400
    missing = client.patch(f"/api/conversations/{uuid.uuid4()}", json={"title": "x"})
    assert missing.status_code == 404


def test_documents_page_by_page_with_status_counts_and_collections(client):
    for i in range(3):
        ingest(client, f"note{i}.md", f"# Note {i}\n\nSolar fact number {i}.", collection="notes")
    assert client.post("/api/collections", json={"name": "empty-one"}).status_code == 201
    assert client.post("/api/collections", json={"name": "bad name"}).status_code == 400
    names = {
        c["name"]: c["document_count"] for c in client.get("/api/collections").json()["collections"]
    }
    assert names == {"default": 0, "notes": 3, "empty-one": 0}
    page = client.get("/api/documents", params={"collection": "notes", "limit": 2}).json()
    assert len(page["documents"]) == 2 and page["counts"] == {"ready": 3}
    rest = client.get("/api/documents", params={"collection": "notes", "limit": 2, "offset": 2})
    assert len(rest.json()["documents"]) == 1
    assert client.get("/api/documents", params={"status": "failed"}).json()["documents"] == []
    assert client.get("/api/documents", params={"status": "odd"}).status_code == 400


def test_pages_and_favicon_are_served(client):
    assert "sources-panel" in client.get("/").text
    assert "drop-zone" in client.get("/documents").text
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
