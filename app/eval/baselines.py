"""The baselines computed outside Postgres: BM25 (bm25s) and exact dense search (numpy)."""

from __future__ import annotations

import time

import numpy as np

from app.eval.dataset import Dataset
from app.text.cjk import cjk_bigrams

# bm25s's stopword lists, by the PostgreSQL configuration of the same language.
STOPWORDS = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "swedish": "sv", "danish": "da", "norwegian": "no",
    "russian": "ru", "turkish": "tr",
}  # fmt: skip


def bm25_runs(
    dataset: Dataset, depth: int = 100, language: str = "english"
) -> tuple[dict[str, list[str]], list[float]]:
    """bm25s with the standard analysis of the corpus's language (stopwords where bm25s has
    a list, the Snowball stemmer; `simple` means neither, and keeps one-letter words as
    Postgres does), over CJK bigrams as the index has them (app.text.cjk)."""
    import bm25s
    import Stemmer

    stemmer = None if language == "simple" else Stemmer.Stemmer(language)
    stopwords = STOPWORDS.get(language)
    pattern = r"(?u)\b\w+\b" if language == "simple" else r"(?u)\b\w\w+\b"
    doc_ids = list(dataset.corpus)
    tokens = bm25s.tokenize(
        [cjk_bigrams(dataset.document_text(d)) for d in doc_ids],
        token_pattern=pattern,
        stopwords=stopwords,
        stemmer=stemmer,
        show_progress=False,
    )
    index = bm25s.BM25()
    index.index(tokens, show_progress=False)
    runs, latencies = {}, []
    for query_id, text in dataset.queries.items():
        started = time.perf_counter()
        # As strings, so they are looked up in the index's vocabulary.
        query = bm25s.tokenize(
            cjk_bigrams(text), token_pattern=pattern, stopwords=stopwords, stemmer=stemmer,
            show_progress=False, return_ids=False,
        )  # fmt: skip
        if not query[0]:
            runs[query_id] = []
            continue
        results, scores = index.retrieve(
            query, k=min(depth, len(doc_ids)), show_progress=False, n_threads=1
        )
        latencies.append((time.perf_counter() - started) * 1000)
        runs[query_id] = [doc_ids[i] for i, s in zip(results[0], scores[0], strict=True) if s > 0]
    return runs, latencies


def dense_runs(
    chunk_docs: list[str],
    chunk_vectors: np.ndarray,
    query_vectors: dict[str, np.ndarray],
    depth: int = 100,
) -> tuple[dict[str, list[str]], list[float]]:
    """Exact cosine similarity over every chunk embedding (they are unit length)."""
    runs, latencies = {}, []
    for query_id, vector in query_vectors.items():
        started = time.perf_counter()
        scores = chunk_vectors @ vector
        top = np.argpartition(-scores, min(depth, len(scores) - 1))[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        latencies.append((time.perf_counter() - started) * 1000)
        runs[query_id] = list(dict.fromkeys(chunk_docs[i] for i in top))
    return runs, latencies
