"""Sentence vectors as stored in `chunks.sentence_vectors`: written by ingestion, read back
for answering, so both sides agree on one format."""

from __future__ import annotations

import numpy as np

# float16: half the bytes, and cosine similarities move by less than 0.001.
SENTENCE_DTYPE = np.float16


def pack(vectors: np.ndarray) -> bytes:
    """One chunk's sentence vectors (a row per sentence) as stored bytes."""
    return vectors.astype(SENTENCE_DTYPE).tobytes()


def sentence_vectors(stored: bytes | None, dimension: int) -> np.ndarray | None:
    """The float32 rows `pack` stored for one chunk."""
    if stored is None:
        return None
    return np.frombuffer(stored, dtype=SENTENCE_DTYPE).reshape(-1, dimension).astype(np.float32)
