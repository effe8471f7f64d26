from tests.helpers import SOLAR_GUIDE, ingest


def test_search_finds_the_uploaded_text(client):
    document = ingest(client, "solar.md", SOLAR_GUIDE)
    ingest(
        client, "tea.txt", "Green tea is steeped at 80 degrees.\n\nBlack tea wants boiling water."
    )
    params = {"q": "does dust reduce the output?", "k": 3}
    results = client.get("/api/search", params=params).json()["results"]
    best = results[0]
    assert best["document_id"] == document["id"]
    assert best["title"] == "Solar Panels Guide"
    assert "cleaned twice a year" in best["text"]
    assert "Dust" in best["snippet"]
    assert best["score"] > 0
    assert set(best) >= {"chunk_id", "document_id", "title", "text", "snippet", "page", "score"}
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_search_matches_any_word_of_a_question(client):
    ingest(client, "tea.txt", "Green tea is steeped at 80 degrees for two minutes.")
    # Most words of the question are absent from the text; "steeped" alone must match.
    results = client.get("/api/search", params={"q": "why is oolong steeped twice?", "k": 5}).json()
    assert results["results"][0]["text"].startswith("Green tea")


def test_search_with_no_documents_is_empty(client):
    assert client.get("/api/search", params={"q": "anything"}).json() == {"results": []}
