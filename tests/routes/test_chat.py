import asyncio
import json
import re
import uuid

import asyncpg

from app.llm.decline import DECLINED
from tests.helpers import SOLAR_GUIDE, ingest, parse_sse


def ask(client, question, conversation_id=None):
    body = {"question": question}
    if conversation_id:
        body["conversation_id"] = conversation_id
    with client.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        return parse_sse(response.read().decode())


def test_stream_events_in_order_and_cite_the_document(client):
    document = ingest(client, "solar.md", SOLAR_GUIDE)
    events = ask(client, "How efficient are monocrystalline solar panels?")
    names = [name for name, _, _ in events]
    assert names[0] == "meta" and names[1] == "sources" and names[-1] == "done"
    assert set(names[2:-1]) == {"token"} and len(names) > 5
    meta, sources, done = events[0][1], events[1][1]["sources"], events[-1][1]
    assert [event_id for _, _, event_id in events] == [
        f"{meta['message_id']}:{i}" for i in range(1, len(events) + 1)
    ]
    assert meta["provider"] == "extractive"
    assert sources[0]["n"] == 1 and sources[0]["document_id"] == document["id"]
    answer = "".join(data["text"] for name, data, _ in events if name == "token")
    assert "22 percent" in answer
    assert "[1]" in answer
    assert set(done["timings_ms"]) == {"retrieve", "generate", "check"}
    assert done["unsupported_citations"] == []


def test_answer_only_quotes_its_sources(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    events = ask(client, "How often should the panels be cleaned?")
    answer = "".join(data["text"] for name, data, _ in events if name == "token")
    flat_source = " ".join(SOLAR_GUIDE.split())
    for sentence in answer.split("]"):
        quoted = sentence.rsplit("[", 1)[0].strip()
        if quoted:
            assert quoted in flat_source


def test_unrelated_question_says_the_documents_do_not_answer(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    events = ask(client, "Who won the football world cup in 1998?")
    answer = "".join(data["text"] for name, data, _ in events if name == "token")
    assert answer.startswith(DECLINED)
    assert events[-1][1]["answered"] is False


def test_conversation_and_messages_are_stored_and_followups_continue_it(client, settings):
    ingest(client, "solar.md", SOLAR_GUIDE)
    first = ask(client, "How efficient are monocrystalline panels?")
    conversation_id = first[0][1]["conversation_id"]
    second = ask(client, "And how often are they cleaned?", conversation_id)
    assert second[0][1]["conversation_id"] == conversation_id

    async def stored():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await conn.fetch(
                "SELECT id, role, content, sources FROM messages WHERE conversation_id = $1"
                " ORDER BY created_at",
                uuid.UUID(conversation_id),
            )
        finally:
            await conn.close()

    rows = asyncio.run(stored())
    assert [r["role"] for r in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[0]["content"] == "How efficient are monocrystalline panels?"
    assert str(rows[1]["id"]) == first[0][1]["message_id"]
    assert "[1]" in rows[1]["content"]
    assert json.loads(rows[1]["sources"])[0]["n"] == 1


def test_extractive_answer_answers_each_part_best_first_in_at_most_three_quotes(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    question = "How often should panels be cleaned, and how efficient are monocrystalline panels?"
    events = ask(client, question)
    answer = "".join(data["text"] for name, data, _ in events if name == "token")
    assert "22 percent" in answer and "twice a year" in answer
    # Every sentence ends with its citation; three at most.
    assert re.fullmatch(r"[^\[\]]+ \[\d+\](?: [^\[\]]+ \[\d+\]){0,2}", answer)
