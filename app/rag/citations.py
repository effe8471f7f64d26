"""Check an answer's citations: does source n say what the sentence citing [n] says?"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.embedders import Embedder
from app.llm.base import Passage
from app.llm.similarity import Scale
from app.text.sentences import sentence_spans

# At most 6 digits: int() refuses strings of more than 4,300 (ValueError in an answer).
CITATION = re.compile(r"\[(\d{1,6})\]")
# Cosine similarity (on all-MiniLM-L6-v2's scale: app/llm/similarity.py) between a sentence
# and the closest sentence of the passage it cites, below which the citation looks
# unsupported: paraphrases of a source sentence score well above it, sentences about
# something else mostly below 0.3.
MIN_SUPPORT = 0.45
MAX_CHECKED = 50  # (sentence, source) pairs per answer: bounds the embedding work


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence without its markers, cited numbers) for each sentence that cites something."""
    cited = []
    # Markers follow the sentence they support ("... 22 percent. [1]" or "... percent [1]."),
    # so split after each run of markers and attach them to the text before.
    for piece in re.split(r"(?<=\])(?!\s*\[)", answer):
        numbers = [int(n) for n in CITATION.findall(piece)]
        text = " ".join(CITATION.sub("", piece).split()).strip(" .")
        if numbers and text:
            cited.append((text, list(dict.fromkeys(numbers))))
    return cited


async def unsupported_citations(
    answer: str, passages: Sequence[Passage], embedder: Embedder, scale: Scale | None = None
) -> list[dict[str, Any]]:
    """Citations that look unsupported: {"n", "sentence", "similarity"} (None: no source n;
    similarities on MiniLM's scale: `scale` maps the embedder's onto it)."""
    found: list[tuple[int, dict[str, Any]]] = []  # (place in the answer, citation)
    pairs: list[tuple[str, int, int]] = []
    for place, (sentence, numbers) in enumerate(cited_sentences(answer)):
        claim = _last_sentence(sentence)
        for n in numbers:
            if not 1 <= n <= len(passages):
                found.append((place, {"n": n, "sentence": sentence, "similarity": None}))
            elif claim not in " ".join(passages[n - 1].text.split()):
                pairs.append((claim, n, place))  # verbatim quotes need no model to check
    pairs = pairs[:MAX_CHECKED]
    if not pairs:
        return [c for _, c in found]
    sources = {n: _sentences(passages[n - 1].text) for _, n, _ in pairs}
    texts = [s for s, _, _ in pairs] + [t for n in sources for t in sources[n]]
    vectors = await embedder.embed(texts)
    offset = len(pairs)
    ranges: dict[int, tuple[int, int]] = {}
    for n, sentences in sources.items():
        ranges[n] = (offset, offset + len(sentences))
        offset += len(sentences)
    for i, (claim, n, place) in enumerate(pairs):
        start, end = ranges[n]
        similarity = float(np.max(vectors[start:end] @ vectors[i]))
        if scale is not None:
            similarity = float(scale.to_reference(similarity))
        if similarity < MIN_SUPPORT:
            found.append((place, {"n": n, "sentence": claim, "similarity": round(similarity, 3)}))
    return [c for _, c in sorted(found, key=lambda item: item[0])]


def _last_sentence(text: str) -> str:
    # Several sentences can share one marker run; the one just before it carries the claim.
    spans = sentence_spans(text)
    start, end = spans[-1] if spans else (0, len(text))
    return text[start:end]


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)] or [text]
