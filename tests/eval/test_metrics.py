"""Metrics against values computed by hand."""

import math

import pytest

from app.eval.metrics import dedupe, mrr_at, ndcg_at, recall_at, summarize


def test_ndcg_by_hand():
    relevant = {"a": 2, "b": 1}
    # Ranked b, x, a: DCG = 1/log2(2) + 2/log2(4) = 1 + 1 = 2; IDCG = 2/1 + 1/log2(3).
    expected = 2 / (2 + 1 / math.log2(3))
    assert ndcg_at(["b", "x", "a"], relevant, 10) == pytest.approx(expected)
    assert ndcg_at(["a", "b"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], relevant, 10) == 0.0
    # Beyond the cut-off nothing counts.
    assert ndcg_at(["x", "a"], relevant, 1) == 0.0


def test_recall_and_mrr_by_hand():
    relevant = {"a": 1, "b": 1, "c": 3, "d": 1}
    ranked = ["x", "c", "y", "a"]
    assert recall_at(ranked, relevant, 2) == 0.25
    assert recall_at(ranked, relevant, 10) == 0.5
    assert mrr_at(ranked, relevant, 10) == 0.5
    assert mrr_at(ranked, relevant, 1) == 0.0


def test_summary_is_the_mean_over_judged_queries():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    runs = {"q1": ["a"], "q2": ["x", "b"]}  # reciprocal ranks 1 and 1/2
    summary = summarize(runs, qrels, [1.0, 3.0])
    assert summary["mrr@10"] == 0.75
    assert summary["recall@10"] == 1.0
    assert summary["ndcg@10"] == round((1 + 1 / math.log2(3)) / 2, 4)
    assert summary["p50_ms"] == 2.0


def test_dedupe_keeps_each_document_at_its_best_rank():
    assert dedupe(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]
