"""Per-query fusion of the lexical and vector rankings, weighed by each one's evidence.

Fixed-weight reciprocal rank fusion fails where one ranking knows nothing: an English-only
embedding model ranks Arabic text at random, and a vector ranking cannot tell `doc10x` from
`doc11x` where BM25 finds the one chunk holding that rare token, yet RRF gives every rank
the same credit whatever the scores behind it. Here each query's rankings are judged by:

- coverage: a ranking with nothing to go on is dropped, the vector one when the embedding
  model cannot read the query's script, the lexical one when no query term occurs in scope;
  a model given a question in a language it was not trained on (an English model asked in
  Spanish or Turkish) keeps a smaller share, FOREIGN_SHARE (`share_for`);
- score distributions: scores are combined, not ranks, each on a scale where its own
  distribution shows (convex combination with theoretical-minimum normalisation, "TM2C2",
  Bruch, Gai and Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS
  2023). BM25 is divided by the query's best BM25 (its minimum is 0): a rare exact match
  stands at 1 against 0 for chunks without the term. Cosine is mapped from its minimum, -1:
  (1 + cos) / (1 + best cos), so a model that puts its candidates at near-equal similarity
  (noise, or near-identical texts) moves the sum little, and one that separates them moves
  it much;
- agreement: a chunk both rankings put high gets both contributions.

A chunk missing from one ranking's candidates gets the bound that ranking implies: the
last vector candidate's similarity (it can be no closer), and BM25 0 when the lexical
ranking ended before its candidate limit (no term matched), else the last BM25 score.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.db.search import DEFAULT_TUNING, Candidates
from app.text.language import written_for

# The vector side's share of the sum. BM25/best spans [0, 1] while (1 + cos)/(1 + best)
# spans about [0.6, 1] for real candidates, so 0.85 gives both similar reach. 0.80-0.85
# meet the goal on every evaluation set (docs/retrieval.md); it is not tuned per set.
VECTOR_SHARE = 0.85
# The vector side's share when the question's language is not one the model was trained
# on: an English model reads Spanish or Turkish as Latin-script words it half knows (XQuAD
# vector nDCG@10 0.55 and 0.28 against lexical 0.97 and 0.91), so BM25 leads, while the
# vector ranking still breaks BM25's ties. Chosen on the tuning half (ddhc-fr, XQuAD de and
# es: 0.4-0.6 all meet the goal there), checked on the validation half (docs/retrieval.md).
FOREIGN_SHARE = 0.5


def share_for(languages: frozenset[str] | None, question: str, share: float) -> float:
    """The vector share for this question: `share`, or at most FOREIGN_SHARE when the model
    (trained on `languages`, None: any) was not trained on the question's language."""
    return share if written_for(languages, question) else min(share, FOREIGN_SHARE)


@dataclass(frozen=True)
class Fused:
    ranked: list[tuple[int, float]]  # (chunk id, fused score), best first
    # What decided the first result: "lexical only" / "vector only" when the other ranking
    # was dropped; else "agree", "lexical", "vector" (whose first result won) or "neither".
    choice: str
    lexical_weight: float
    vector_weight: float


def fuse(
    candidates: Candidates,
    *,
    vector_covers: bool = True,
    limit: int = 50,
    vector_share: float = DEFAULT_TUNING.vector_share,
) -> Fused:
    """Merge the two rankings' candidates for one query; `limit` is the candidate depth."""
    lexical, vector = candidates.lexical, candidates.vector
    if lexical and (not vector or not vector_covers):
        return Fused([(c, s) for c, s, _ in lexical], "lexical only", 1.0, 0.0)
    if not lexical:
        return Fused(list(vector), "vector only", 0.0, 1.0)

    best_lexical = lexical[0][1]
    lexical_norm = {c: s / best_lexical for c, s, _ in lexical}
    lexical_missing = lexical[-1][1] / best_lexical if len(lexical) >= limit else 0.0
    best_vector = vector[0][1]
    vector_norm = {c: (1 + s) / (1 + best_vector) for c, s in vector}
    vector_missing = (1 + vector[-1][1]) / (1 + best_vector)
    lexical_weight, vector_weight = 1 - vector_share, vector_share
    scores = {
        chunk: lexical_weight * lexical_norm.get(chunk, lexical_missing)
        + vector_weight * vector_norm.get(chunk, vector_missing)
        for chunk in lexical_norm.keys() | vector_norm.keys()
    }
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    first, top_lexical, top_vector = ranked[0][0], lexical[0][0], vector[0][0]
    if first == top_lexical == top_vector:
        choice = "agree"
    elif first == top_lexical:
        choice = "lexical"
    elif first == top_vector:
        choice = "vector"
    else:
        choice = "neither"
    return Fused(ranked, choice, lexical_weight, vector_weight)
