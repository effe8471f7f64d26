"""Reading a question without a model: its terms in its own language, and the kind of
answer it asks for, decide which sentence is quoted first."""

import asyncio

import pytest

from app.embedders.local import LocalEmbedder
from app.llm import Passage
from app.llm.asks import coverage, fits_kind, held_terms, read_question, share
from app.llm.extractive import choose


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return asyncio.run(LocalEmbedder.load(None))


SOLAR = (
    "Monocrystalline solar panels are cut from a single silicon crystal and look uniformly "
    "dark. Monocrystalline panels convert about 22 percent of the sunlight that reaches "
    "them into electricity. Monocrystalline panels cost more to make than polycrystalline "
    "ones, because growing the crystal is slow. A typical roof of them costs 8,000 dollars."
)


async def test_a_what_percent_question_is_answered_by_the_sentence_holding_a_percentage(
    embedder,
):
    passage = Passage(1, "d", "Solar", SOLAR, SOLAR[:20], None, [], 1.0)
    picked = await choose(
        "What percent of sunlight do monocrystalline panels convert?", [passage], embedder
    )
    assert picked.answered and "22 percent" in picked.sentences[0].text


async def test_each_part_of_a_compound_question_gets_a_sentence_of_the_kind_it_asks_for(
    embedder,
):
    passage = Passage(1, "d", "Solar", SOLAR, SOLAR[:20], None, [], 1.0)
    picked = await choose(
        "What percentage of sunlight do monocrystalline panels convert, and how much does "
        "a roof of them cost?",
        [passage],
        embedder,
    )
    quoted = [s.text for s in picked.sentences]
    assert any("22 percent" in s for s in quoted)
    assert any("8,000 dollars" in s for s in quoted)


def test_a_percent_question_asks_for_a_percentage_not_any_number():
    asked = read_question("What percentage of voters turned out?")
    assert asked.kind == "percent"
    assert fits_kind(asked, "Turnout was 64% in 2019.")
    assert fits_kind(asked, "Just over half of the voters turned out.")
    assert not fits_kind(asked, "The election was held in 2019.")


def test_portuguese_terms_are_stemmed_as_portuguese():
    # "consumo" (question) and "consumia" (passage) share a Portuguese stem, not an English
    # one; the glue words "quando", "em", "de" are not terms.
    question = "Quando a máquina de Watt poupava carvão em consumo?"
    asked = read_question(question, "portuguese")
    assert not {"quando", "em", "de"} & asked.terms
    text = "A máquina de Watt consumia muito menos carvão e poupava dinheiro."
    assert coverage(asked, text) == 1.0
    assert coverage(read_question(question, "english"), text) < 1.0


def test_question_words_of_other_languages_are_glue_and_say_what_is_asked():
    # "quantos" asks for a number and "quê" is "que" with an accent: neither is a term a
    # passage must hold (issue 20: "CBD de quê?" was declined for lacking "quê").
    many = read_question("Quantos vitorianos são budistas?", "portuguese")
    assert many.kind == "number" and "quant" not in many.terms
    assert read_question("CBD de quê?", "portuguese").terms == {"cbd"}
    assert read_question("Onde fica a Rua Augusta?", "portuguese").kind == "place"
    assert read_question("Em que ano foi construída a ponte?", "portuguese").kind == "date"
    assert read_question("¿Cuántos habitantes tiene Lyon?", "spanish").kind == "number"
    assert read_question("Wer baute die Brücke?", "german").kind == "person"
    # English questions read as before.
    assert read_question("Who built the bridge?").kind == "person"


def test_a_cjk_question_is_read_in_bigrams_as_the_index_reads_it():
    """A run of Japanese was one "word" that no passage repeated: a question about a
    passage's own words shared none of them with it."""
    asked = read_question("東京の夜景はどこで見られますか", "simple")
    assert {"夜景", "東京"} <= asked.terms
    assert {"夜景", "東京"} <= held_terms(asked, "東京の夜景は美しい。")
    assert share(asked, held_terms(asked, "大阪の天気は晴れです。")) == 0
