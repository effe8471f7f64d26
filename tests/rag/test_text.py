"""Pure text helpers of the answerers: compound questions, citation parsing, the prompt budget."""

from app.llm.base import Passage
from app.llm.extractive import _parts
from app.llm.prompt import answer_messages, estimate_tokens, fit_passages
from app.rag.citations import cited_sentences


def passage(n: int, text: str) -> Passage:
    return Passage(n, "d", f"Doc {n}", text, text[:20], None, [], 1.0)


def test_compound_questions_are_split_into_their_parts():
    assert _parts("How often should panels be cleaned, and how efficient are they?") == [
        "How often should panels be cleaned",
        "how efficient are they",
    ]
    assert _parts("What are salt and pepper?") == []


def test_citations_attach_to_the_sentence_before_them():
    answer = "Panels reach 22 percent [1]. They need cleaning twice a year [2][3]. No source here."
    assert cited_sentences(answer) == [
        ("Panels reach 22 percent", [1]),
        ("They need cleaning twice a year", [2, 3]),
    ]


def test_passages_beyond_the_budget_are_dropped_or_cut_at_a_word():
    passages = [passage(n, "word " * 400) for n in range(1, 4)]
    kept = fit_passages(passages, 300 + 150 + 60)
    assert [p.chunk_id for p in kept] == [1]
    kept = fit_passages(passages, 300 + 2 * estimate_tokens("[1] Doc 1\n" + "word " * 400))
    assert [p.chunk_id for p in kept] == [1, 2]
    cut = fit_passages(passages, 300 + 60)
    assert len(cut) == 1 and cut[0].text.endswith("word …") and len(cut[0].text) < 2000
    system = answer_messages("Why?", kept)[0]["content"]
    assert "[1] Doc 1\n" in system and "[2] Doc 2\n" in system and "[3] Doc 3" not in system
