"""Lexical search in each chunk's own language: French text is stemmed as French."""

import asyncio
import json
from pathlib import Path

import bm25s
import numpy as np
import pytest

from app.db import search as search_sql
from tests.db.test_search import _fetch, _lexical
from tests.helpers import upload, wait_ready

DDHC = Path(__file__).parents[1] / "data" / "ddhc-fr"


def _articles() -> list[dict]:
    lines = (DDHC / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _ingest_all(client, documents: dict[str, str]) -> None:
    ids = []
    for name, text in documents.items():
        response = upload(client, name, text)
        assert response.status_code == 202, response.text
        ids.append(response.json()["document"]["id"])
    for document_id in ids:
        assert wait_ready(client, document_id)["status"] == "ready"


def test_french_bm25_equals_the_reference_with_the_french_stemmer(client, settings):
    _ingest_all(client, {f"{a['_id']}.txt": f"{a['title']}\n\n{a['text']}" for a in _articles()})
    url = settings.database_url
    languages = asyncio.run(_fetch(url, "SELECT DISTINCT language FROM chunks"))
    assert [r["language"] for r in languages] == ["french"]
    tokens = asyncio.run(
        _fetch(
            url,
            "SELECT c.id, array_agg(t.lexeme ORDER BY t.lexeme) AS lexemes,"
            " array_agg(coalesce(array_length(t.positions, 1), 1) ORDER BY t.lexeme) AS counts"
            " FROM chunks c, unnest(c.tsv) t GROUP BY c.id ORDER BY c.id",
        )
    )
    # Postgres's French configuration is the Snowball French stemmer and stopword list.
    stemmed = {lexeme for row in tokens for lexeme in row["lexemes"]}
    assert {"libert", "homm", "citoyen"} <= stemmed and "liberté" not in stemmed
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index(
        [
            [lexeme for lexeme, n in zip(r["lexemes"], r["counts"], strict=True) for _ in range(n)]
            for r in tokens
        ],
        show_progress=False,
    )
    for query in ("présomption d'innocence", "la liberté des citoyens", "les droits naturels"):
        lexemes = asyncio.run(
            _fetch(url, "SELECT DISTINCT lexeme FROM unnest(to_tsvector('french', $1))", query)
        )
        query_tokens = [r["lexeme"] for r in lexemes if r["lexeme"] in reference.vocab_dict]
        assert query_tokens, query
        expected = reference.get_scores(query_tokens)
        got = _lexical(url, query, search_sql.Tuning())
        for row, score in zip(tokens, expected, strict=True):
            assert got.get(row["id"], 0.0) == pytest.approx(float(score), rel=1e-5, abs=1e-6)
    np.testing.assert_array_less(0, [len(r["lexemes"]) for r in tokens])


def test_a_mixed_collection_answers_in_each_language(client):
    _ingest_all(
        client,
        {
            "fr.txt": "Tout homme étant présumé innocent jusqu'à ce qu'il ait été déclaré "
            "coupable, toute rigueur qui ne serait pas nécessaire doit être réprimée par la loi.",
            "en.txt": "Every runner who finished the marathon received a medal and a blanket; "
            "the organisers counted the finishers twice.",
        },
    )

    def first(query: str) -> str:
        response = client.get("/api/search", params={"q": query, "k": 2, "cache": "off"})
        assert response.status_code == 200, response.text
        return response.json()["results"][0]["title"]

    # "présumés" and "réprimées" only match through French stemming; "finishing" through
    # English stemming.
    assert first("présumés innocents, rigueurs réprimées") == "fr.txt"
    assert first("finishing runners") == "en.txt"


def test_issue_bm25_counts_n_and_avgdl_within_the_language(client, settings):
    # A few chunks in another language of the collection made its N (and avgdl) count them:
    # with df counted per language, the odd ones' common words got a large idf.
    articles = _articles()
    english = {
        f"en{i}.txt": f"Runner {i} finished the marathon in the rain and received a medal, "
        "a blanket and a cup of tea from the organisers at the finish line."
        for i in range(3)
    }
    _ingest_all(
        client,
        {**{f"{a['_id']}.txt": f"{a['title']}\n\n{a['text']}" for a in articles}, **english},
    )
    url = settings.database_url
    tokens = asyncio.run(
        _fetch(
            url,
            "SELECT c.id, array_agg(t.lexeme ORDER BY t.lexeme) AS lexemes,"
            " array_agg(coalesce(array_length(t.positions, 1), 1) ORDER BY t.lexeme) AS counts"
            " FROM chunks c, unnest(c.tsv) t WHERE c.language = 'french'"
            " GROUP BY c.id ORDER BY c.id",
        )
    )
    languages = asyncio.run(_fetch(url, "SELECT DISTINCT language FROM chunks ORDER BY 1"))
    assert [r["language"] for r in languages] == ["english", "french"]
    # The reference indexes the French chunks alone: N and avgdl of the French partition.
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index(
        [
            [lexeme for lexeme, n in zip(r["lexemes"], r["counts"], strict=True) for _ in range(n)]
            for r in tokens
        ],
        show_progress=False,
    )
    query = "la liberté des citoyens"
    lexemes = asyncio.run(
        _fetch(url, "SELECT DISTINCT lexeme FROM unnest(to_tsvector('french', $1))", query)
    )
    expected = reference.get_scores([r["lexeme"] for r in lexemes])
    got = _lexical(url, query, search_sql.Tuning())
    for row, score in zip(tokens, expected, strict=True):
        assert got.get(row["id"], 0.0) == pytest.approx(float(score), rel=1e-5, abs=1e-6)
