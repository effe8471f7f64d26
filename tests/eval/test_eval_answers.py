"""`python -m app eval-answers` on a tiny SQuAD 2.0-format file written by the test."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.eval.answers import FLOORS
from app.eval.squad import (
    contains,
    first_quote,
    gold_sentences,
    half_of,
    holds_gold_sentence,
    load_queries,
    load_squad,
    normalize,
    same_sentence,
    sample,
    token_f1,
)
from app.llm.extractive import EVIDENCE_FLOOR

ROOT = Path(__file__).resolve().parents[2]
SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Tea",
            "paragraphs": [
                {
                    "context": "Green tea is steeped at eighty degrees for two minutes. "
                    "Black tea needs boiling water and steeps for four minutes.",
                    "qas": [
                        {"id": "t1", "question": "How long is green tea steeped?",
                         "answers": [{"text": "two minutes", "answer_start": 44}],
                         "is_impossible": False},
                        {"id": "t2", "question": "How long is white tea steeped?",
                         "answers": [], "is_impossible": True},
                    ],
                },
                {
                    "context": "Sourdough bread rises slowly thanks to wild yeast and bacteria.",
                    "qas": [
                        {"id": "t3", "question": "What makes sourdough bread rise?",
                         "answers": [{"text": "wild yeast and bacteria", "answer_start": 40}],
                         "is_impossible": False},
                    ],
                },
            ],
        },
        {
            "title": "Volcanoes",
            "paragraphs": [
                {
                    "context": "Mount Etna in Sicily is one of the most active volcanoes.",
                    "qas": [
                        {"id": "v1", "question": "Which volcano in Sicily is very active?",
                         "answers": [{"text": "Mount Etna", "answer_start": 0}],
                         "is_impossible": False},
                    ],
                }
            ],
        },
    ],
}  # fmt: skip


def test_scores_answers_and_declines_as_json(tmp_path, database_url):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SQUAD))
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [
        sys.executable, "-m", "app", "eval-answers", str(path), "--articles", "Tea",
        "--absent", str(path), "--json",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["questions"] == {"answerable": 2, "impossible": 1, "absent": 1}
    assert report["paragraphs"] == 2 and report["provider"] == "extractive"
    # Both answerable questions are easy: answered, quoted and cited right.
    assert report["containment"] == 1.0 and report["wrongly_declined"] == 0.0
    assert report["citation_precision"] == 1.0
    # The first quote holds the gold span, and the cited passage a sentence with it.
    assert report["answer_in_gold"] == 1.0 and report["citation_in_gold"] == 1.0
    # The volcano is in no loaded paragraph: declined.
    assert report["declined_absent"] == 1.0
    assert [row["floor"] for row in report["sweep"]] == list(FLOORS)
    # The sweep re-decides from the evidence the answerer itself weighed (the collection's
    # term rarity included): at the answerer's own floor it gives the answers' figures.
    (own,) = [row for row in report["sweep"] if row["floor"] == EVIDENCE_FLOOR]
    assert all(own[key] == report[key] for key in ("declined_absent", "wrongly_declined"))


def test_another_sets_questions_are_asked_as_absent_and_declined(tmp_path, database_url):
    """The plain "not in your documents" case: questions of another set (BEIR queries)."""
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SQUAD))
    queries = tmp_path / "health" / "queries.jsonl"
    queries.parent.mkdir()
    queries.write_text(
        '{"_id": "q1", "text": "What is the recommended daily dose of vitamin D?"}\n'
        '{"_id": "q2", "text": "How often should adults get a tetanus booster?"}\n'
    )
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [
        sys.executable, "-m", "app", "eval-answers", str(path), "--articles", "Tea,Volcanoes",
        "--absent-queries", str(queries), "--json",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["questions"]["absent"] == 2
    assert report["declined_absent"] == 1.0 and report["wrongly_declined"] == 0.0


def test_a_queries_file_that_is_not_beir_is_refused_with_its_name(tmp_path):
    path = tmp_path / "queries.jsonl"
    path.write_text('{"question": "no _id"}\n')
    with pytest.raises(ValueError, match="is not a BEIR queries.jsonl file"):
        load_queries(path)


def test_the_tune_and_validate_halves_split_every_kind_without_overlap(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SQUAD))
    articles = load_squad(path)
    everything = sample(articles, [], 10)
    halves = [sample(articles, [], 10, half=h) for h in ("tune", "validate")]
    assert sorted(q.id for h in halves for q in h) == sorted(q.id for q in everything)
    assert all(half_of(q) == "tune" for q in halves[0])
    assert not {q.id for q in halves[0]} & {q.id for q in halves[1]}


def test_a_file_that_is_not_squad_is_refused_with_its_name(tmp_path, database_url):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"_id": "d1", "text": "not SQuAD"}\n')
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "app", "eval-answers", str(path)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"{path} is not a SQuAD JSON file" in result.stderr


def test_an_unknown_article_title_is_named(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SQUAD))
    with pytest.raises(ValueError, match="no article titled Coffee"):
        load_squad(path, frozenset({"Tea", "Coffee"}))


def test_containment_and_f1_use_squad_normalisation():
    answer = "Green tea is steeped at eighty degrees for two minutes. [1]"
    assert contains(answer, ("Two minutes",)) and not contains(answer, ("three minutes",))
    assert not contains("The Mountain Etna [1]", ("Etna mountain",))
    assert normalize("The  Normans, [2]") == "normans"
    assert token_f1("two minutes", ("two minutes",)) == 1.0
    assert 0 < token_f1(answer, ("two minutes",)) < 0.5


def test_llm_answers_are_scored_and_its_i_dont_know_counts_as_declining(
    tmp_path, database_url, fake_llm
):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SQUAD))
    fake_llm.answer = ["I don't know", " from these sources."]
    env = {**os.environ, "DATABASE_URL": database_url, "LLM_BASE_URL": fake_llm.url}
    command = [
        sys.executable, "-m", "app", "eval-answers", str(path), "--articles", "Tea",
        "--absent", str(path), "--llm", "--json",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["provider"] == "openai" and "sweep" not in report
    assert report["declined_absent"] == 1.0 and report["wrongly_declined"] == 1.0
    assert report["refusal_recall"] == 1.0 and report["containment"] == 0.0


# E-Manual QA's gold answers are manual passages, their lines glued without a space.
MANUAL_GOLD = (
    "You can set the screen to turn off after a set amount of time.From  Settings, tap  "
    "Display > Screen timeout, and tap a time limit to set it.",
)


def test_a_passage_gold_answer_is_split_into_its_glued_sentences():
    assert gold_sentences(MANUAL_GOLD) == [
        "You can set the screen to turn off after a set amount of time.",
        "From  Settings, tap  Display > Screen timeout, and tap a time limit to set it.",
    ]
    assert gold_sentences(("two minutes",)) == ["two minutes"]


def test_a_quoted_sentence_is_judged_against_the_gold_passage_sentence_by_sentence():
    """Containment of a whole passage never holds for a few quoted sentences: the first
    quote counts when it is (mostly) one of the gold's sentences."""
    answer = "From Settings, tap Display > Screen timeout, and tap a time limit. [1] More. [2]"
    first = first_quote(answer)
    assert first == "From Settings, tap Display > Screen timeout, and tap a time limit."
    assert not contains(answer, MANUAL_GOLD)
    assert any(same_sentence(first, g) for g in gold_sentences(MANUAL_GOLD))
    wrong = "From Settings, tap Display > Font size and style to change the font."
    assert not any(same_sentence(wrong, g) for g in gold_sentences(MANUAL_GOLD))
    # For a span (SQuAD), the quote counts when it holds it, as containment does.
    assert same_sentence("Green tea is steeped for two minutes.", "two minutes")
    assert not same_sentence("Tea.", "Green tea is steeped for two minutes")


def test_a_cited_passage_is_right_when_it_holds_a_gold_sentence():
    passage = "Screen timeout\n\nFrom Settings, tap Display > Screen timeout, and tap a time limit."
    assert holds_gold_sentence(passage, MANUAL_GOLD)
    assert not holds_gold_sentence("Dark mode\n\nFrom Settings, tap Display > Dark mode.",
                                   MANUAL_GOLD)  # fmt: skip


def test_the_manual_converter_writes_squad_that_loads(tmp_path):
    """bench/emanual_to_squad.py: sections become articles titled by their path (same-titled
    sections one article's paragraphs), questions answerable with their passage as gold."""
    script = ROOT / "bench" / "emanual_to_squad.py"
    corpus = tmp_path / "corpus.json"
    corpus.write_text(json.dumps({
        "s0": {"title": "Display", "text": ["Display"], "section_hierarchy": "s0"},
        "s1": {"title": "Screen timeout", "text": ["Screen timeout", "Tap a time limit."],
               "section_hierarchy": "s0>s1"},
        "s2": {"title": "Screen timeout", "text": ["Another one."], "section_hierarchy": "s0>s2"},
    }))  # fmt: skip
    questions = tmp_path / "questions.csv"
    questions.write_text(
        "question_id,question,section_path,section_link,answer\n"
        '7,How do I change the screen timeout?,Display>Screen timeout,,"Tap a time limit."\n'
    )
    out = tmp_path / "manual.json"
    run = subprocess.run([sys.executable, str(script), "squad", str(corpus), str(questions),
                          str(out)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"sections": 3, "questions": 1}
    articles = {a.title: a for a in load_squad(out)}
    timeout = articles["Display > Screen timeout"]
    assert timeout.paragraphs == ("Screen timeout\n\nTap a time limit.", "Another one.")
    assert [(q.id, q.answers, q.kind) for q in timeout.questions] == [
        ("emanual-7", ("Tap a time limit.",), "answerable")
    ]
