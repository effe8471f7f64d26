"""Embedding a document's chunks in groups, longest first, reporting progress.

Each chunk's sentences get vectors from the same model pass (late chunking: the mean of the
sentence's token vectors, read in the context of its whole chunk). The extractive answerer
ranks sentences with them, so answering needs no model run over the passages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from app.embedders import Embedder
from app.embedders.stored import pack
from app.text.sentences import sentence_spans

# Wide enough that sorting by length leaves little padding in each model batch, and the
# model, not the hand-off, dominates; small enough for live progress.
GROUP = 256


async def embed_sorted(
    embedder: Embedder,
    texts: Sequence[str],
    on_progress: Callable[[int, int], Awaitable[None]] | None = None,
    group: int = GROUP,
) -> tuple[np.ndarray, list[bytes | None]]:
    """Vectors in the order of `texts`, and each text's sentence vectors as stored bytes
    (None when the provider cannot pool them), computed in groups of similar length.

    Sorting by length first means each model batch pads to a similar length, and it is
    done over the whole document, not only within one call to the model.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    sentences: list[bytes | None] = [None] * len(texts)
    for begin in range(0, len(order), group):
        indices = order[begin : begin + group]
        batch = [texts[i] for i in indices]
        vectors[indices], pooled = await embedder.embed_spans(
            batch, [sentence_spans(text) for text in batch]
        )
        for i, sentence_vectors in zip(indices, pooled, strict=True):
            if sentence_vectors is not None:
                sentences[i] = pack(sentence_vectors)
        if on_progress is not None:
            await on_progress(min(begin + group, len(order)), len(order))
    return vectors, sentences
