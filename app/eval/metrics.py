"""Ranking metrics as BEIR reports them (trec_eval's definitions, linear gains)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def mrr_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    for i, doc in enumerate(ranked[:k]):
        if doc in relevant:
            return 1.0 / (i + 1)
    return 0.0


def summarize(
    runs: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    latencies_ms: Sequence[float],
) -> dict[str, float]:
    """Mean metrics over the judged queries, and latency percentiles."""
    queries = list(qrels)

    def mean(metric, k: int) -> float:
        return round(float(np.mean([metric(runs.get(q, []), qrels[q], k) for q in queries])), 4)

    return {
        "ndcg@10": mean(ndcg_at, 10),
        "recall@10": mean(recall_at, 10),
        "recall@100": mean(recall_at, 100),
        "mrr@10": mean(mrr_at, 10),
        "p50_ms": round(float(np.percentile(latencies_ms, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies_ms, 95)), 2),
    }


def dedupe(ranked: Sequence[str]) -> list[str]:
    """Chunk results to document results: each document at its best rank."""
    return list(dict.fromkeys(ranked))
