"""BM25's inverse document frequency, as the SQL scores it (app/db/search.py) and bm25s does:
the one formula the Python side weighs terms by."""

from __future__ import annotations

import math


def idf(n: float, df: float) -> float:
    """Of n texts, df hold the term."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))
