"""Late chunking: span vectors mean-pooled from a text's token vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pool_spans(
    tokens: np.ndarray, offsets: np.ndarray, spans: Sequence[tuple[int, int]]
) -> np.ndarray | None:
    """Unit mean vectors of the tokens inside each span; None if a span lost its tokens to
    truncation (the caller then embeds those spans on their own)."""
    tokens = tokens[: len(offsets)]  # the batch's padding rows have no offsets
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts  # [CLS] and [SEP] have empty offsets
    pooled = np.empty((len(spans), tokens.shape[1]), dtype=np.float32)
    for i, (start, end) in enumerate(spans):
        inside = real & (ends > start) & (starts < end)
        if not inside.any():
            return None
        pooled[i] = tokens[inside].mean(axis=0)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
