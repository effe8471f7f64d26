"""Embedding a document's chunks in groups, longest first, reporting progress."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from app.rag.embedders import Embedder

# Big enough that the model, not the hand-off, dominates; small enough for live progress.
GROUP = 256


async def embed_sorted(
    embedder: Embedder,
    texts: Sequence[str],
    on_progress: Callable[[int, int], Awaitable[None]] | None = None,
    group: int = GROUP,
) -> np.ndarray:
    """Vectors in the order of `texts`, computed in groups of similar length.

    Sorting by length first means each model batch pads to a similar length, and it is
    done over the whole document, not only within one call to the model.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for begin in range(0, len(order), group):
        indices = order[begin : begin + group]
        vectors[indices] = await embedder.embed([texts[i] for i in indices])
        if on_progress is not None:
            await on_progress(min(begin + group, len(order)), len(order))
    return vectors
