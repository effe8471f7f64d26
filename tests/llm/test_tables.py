"""A question about a table cell is answered by its row, read with its header."""

import asyncio

import pytest

from app.embedders.local import LocalEmbedder
from app.ingest.formats.delimited import CSV
from app.llm import Passage
from app.llm.extractive import choose, compose
from app.llm.tables import row_texts
from app.rag.citations import unsupported_citations
from tests.helpers import ingest

CITIES = (
    b"\xef\xbb\xbfCity,Country,Population,Area (km2)\r\n"
    b"Lyon,France,522250,47.87\r\n"
    b"Porto,Portugal,231800,41.42\r\n"
    b'"Leipzig, Saxony",Germany,616093,297.8\r\n'
    b"Turin,Italy,841600,130.01\r\n"
)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return asyncio.run(LocalEmbedder.load(None))


def _table() -> str:
    return CSV.parse(CITIES, "cities.csv").text


async def test_a_table_cell_is_answered_with_its_row(embedder):
    table = _table()
    passage = Passage(1, "d", "cities.csv", table, table[:20], None, [], 1.0)
    picked = await choose("What is the population of Lyon?", [passage], embedder)
    assert picked.answered
    assert picked.sentences[0].text == (
        "City: Lyon; Country: France; Population: 522250; Area (km2): 47.87"
    )
    answer = await compose("What is the population of Lyon?", [passage], embedder)
    assert answer.startswith("City: Lyon; Country: France; Population: 522250") and "[1]" in answer
    # The quote is checked against the row it came from: no unverified-citation notice.
    assert await unsupported_citations(answer, [passage], embedder) == []


async def test_a_quoted_comma_stays_inside_its_cell_and_the_header_row_is_never_an_answer(
    embedder,
):
    table = _table()
    rows = row_texts(table)
    assert "City: Leipzig, Saxony; Country: Germany; Population: 616093; Area (km2): 297.8" in (
        rows.values()
    )
    assert not any(r.startswith("City: City") for r in rows.values()) and len(rows) == 4
    passage = Passage(1, "d", "cities.csv", table, table[:20], None, [], 1.0)
    picked = await choose("Which country is Leipzig in?", [passage], embedder)
    assert picked.sentences[0].text.startswith("City: Leipzig, Saxony; Country: Germany")


async def test_a_continued_table_chunk_reads_its_rows_with_the_repeated_header(embedder):
    # A long table's later chunks carry the header again (app/ingest/chunk.py).
    text = (
        "| Region | Revenue 2021 | Revenue 2022 |\n| --- | --- | --- |\n"
        "| Westfold | 1.1 M | 1.3 M |\n| Eastmarch | 2.0 M | 2.4 M |"
    )
    passage = Passage(1, "d", "report.xlsx", text, text[:20], None, ["Sheet1"], 1.0)
    picked = await choose("What was Eastmarch's 2022 revenue?", [passage], embedder)
    assert picked.answered
    assert picked.sentences[0].text == (
        "Region: Eastmarch; Revenue 2021: 2.0 M; Revenue 2022: 2.4 M"
    )


def test_an_escaped_pipe_is_part_of_its_cell():
    text = "| Key | Meaning |\n| --- | --- |\n| a\\|b | either |"
    assert list(row_texts(text).values()) == ["Key: a|b; Meaning: either"]


async def test_a_row_whose_cell_ends_like_a_sentence_is_quoted_whole(embedder):
    text = (
        "| Name | Role | Office |\n| --- | --- | --- |\n"
        "| Dr. Ada Moreau | Head of research | Room 4.12 |\n| Ben Ortiz | Librarian | Room 1.02 |"
    )
    passage = Passage(1, "d", "staff.csv", text, text[:20], None, [], 1.0)
    picked = await choose("Which room is Dr. Ada Moreau's office in?", [passage], embedder)
    row = "Name: Dr. Ada Moreau; Role: Head of research; Office: Room 4.12"
    assert picked.sentences[0].text == row
    assert all(s.text.startswith("Name: ") for s in picked.sentences)


def test_an_uploaded_csv_answers_a_cell_question_with_its_row(client):
    """Through the whole app: upload, search, the extractive answer, /v1."""
    ingest(client, "cities.csv", CITIES)
    body = {
        "model": "rag",
        "messages": [{"role": "user", "content": "What is the population of Lyon?"}],
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["answered"] is True
    content = reply["choices"][0]["message"]["content"]
    assert content.startswith("City: Lyon; Country: France; Population: 522250"), content
