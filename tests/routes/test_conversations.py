"""GET /api/conversations, GET and DELETE /api/conversations/{id}."""

import uuid

from tests.helpers import SOLAR_GUIDE, ingest, parse_sse, row_counts


def ask(client, question, conversation_id=None):
    body = {"question": question, "conversation_id": conversation_id}
    with client.stream("POST", "/api/chat", json=body) as response:
        return parse_sse(response.read().decode())


def test_list_read_and_delete_a_conversation(client, settings):
    ingest(client, "solar.md", SOLAR_GUIDE)
    first = ask(client, "How efficient are monocrystalline panels?")
    conversation_id = first[0][1]["conversation_id"]
    ask(client, "And how often are they cleaned?", conversation_id)
    other = ask(client, "How much output does dust cost?")[0][1]["conversation_id"]

    listed = client.get("/api/conversations").json()["conversations"]
    assert [c["id"] for c in listed] == [other, conversation_id]
    assert listed[1]["message_count"] == 4
    assert listed[1]["title"] == "How efficient are monocrystalline panels?"

    conversation = client.get(f"/api/conversations/{conversation_id}").json()["conversation"]
    messages = conversation["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[1]["id"] == first[0][1]["message_id"]
    assert messages[1]["sources"][0]["n"] == 1 and "[1]" in messages[1]["content"]

    before = row_counts(settings.database_url)
    assert client.delete(f"/api/conversations/{conversation_id}").status_code == 204
    assert client.get(f"/api/conversations/{conversation_id}").status_code == 404
    after = row_counts(settings.database_url)
    assert after == {**before, "conversations": 1, "messages": 2}


def test_followup_without_an_llm_searches_with_the_earlier_question(client):
    ingest(client, "solar.md", SOLAR_GUIDE)
    ingest(client, "garden.md", "# Garden\n\nTomatoes should be watered twice a week in summer.\n")
    first = ask(client, "What do polycrystalline solar panels cost in efficiency?")
    conversation_id = first[0][1]["conversation_id"]
    # "they" alone does not say solar panels; the earlier question does.
    followup = ask(client, "How often should they be cleaned?", conversation_id)
    answer = "".join(d["text"] for name, d, _ in followup if name == "token")
    assert "twice a year" in answer and "Tomatoes" not in answer


def test_unknown_conversations_and_bad_limits_are_refused(client, settings):
    before = row_counts(settings.database_url)
    assert client.get(f"/api/conversations/{uuid.uuid4()}").status_code == 404
    assert client.get("/api/conversations/not-an-id").status_code == 404
    assert client.delete(f"/api/conversations/{uuid.uuid4()}").json()["error"]["code"] == (
        "not_found"
    )
    assert client.get("/api/conversations?limit=0").status_code == 400
    assert client.get("/api/conversations?limit=abc").status_code == 400
    assert row_counts(settings.database_url) == before
