"""Follow-up questions built from a public BEIR set: recall@5 with the conversation, alone,
and as the standalone question they stand for.

    python bench/followups.py ../shared/datasets/msmarco [--weight 0.3]

Each judged query becomes a two-turn conversation: its rarest word in the corpus (its
subject, mostly: "ohio" in "what is the population of ohio") is asked about first ("Tell me
about ohio."), then the query follows with that word replaced by "it". The follow-up is
searched by the app's Retriever with that history (no LLM: the earlier question's terms at a
lower weight), and also alone, and the original query standalone. The goal (issue 21):
follow-up recall@5 >= 0.9 x standalone. The corpus is ingested as `python -m app eval`
does (same collection, reused). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from app.db.embedded import stop_embedded  # noqa: E402
from app.db.pool import create_pool  # noqa: E402
from app.db.search import DEFAULT_TUNING  # noqa: E402
from app.embedders import load_embedder  # noqa: E402
from app.eval.dataset import Dataset, load_dataset  # noqa: E402
from app.eval.metrics import dedupe, recall_at  # noqa: E402
from app.eval.run import collection_name, ensure_ingested  # noqa: E402
from app.llm import Turn  # noqa: E402
from app.rag.retriever import Retriever, Scope  # noqa: E402
from app.resources import database_url, run_migrations  # noqa: E402
from bench.smoke import parse_args  # noqa: E402

_WORD = re.compile(r"[^\W_]{3,}")


def conversations(dataset: Dataset) -> list[tuple[str, str, str, str]]:
    """(query id, first question, follow-up, standalone question) per judged query whose
    subject word can be told."""
    df: Counter[str] = Counter()
    for doc_id in dataset.corpus:
        df.update(set(_WORD.findall(dataset.document_text(doc_id).lower())))
    cases = []
    for query_id, text in dataset.queries.items():
        words = [w for w in _WORD.findall(text.lower()) if df[w] > 0]
        if len(words) < 2:
            continue  # a one-word query has nothing left to follow up with
        subject = min(words, key=lambda w: (df[w], w))
        pattern = re.compile(rf"\b{re.escape(subject)}\b", re.I)
        cases.append((query_id, f"Tell me about {subject}.", pattern.sub("it", text), text))
    return cases


async def measure(directory: Path, weight: float) -> dict[str, object]:
    dataset = load_dataset(directory)
    settings = load_settings()
    dsn, server = database_url(settings)
    try:
        await run_migrations(dsn)
        pool = await create_pool(dsn, max_size=2)
        embedder = await load_embedder(settings)
        try:
            collection_id = await ensure_ingested(pool, embedder, dataset)
            async with pool.acquire() as conn:
                rows = await conn.fetch(
                    """SELECT c.id, d.metadata->>'beir_id' AS beir_id FROM chunks c
                       JOIN documents d ON d.id = c.document_id WHERE c.collection_id = $1""",
                    collection_id,
                )
            chunk_doc = {r["id"]: r["beir_id"] for r in rows}
            tuning = replace(DEFAULT_TUNING, context_weight=weight)
            retriever = Retriever(pool, embedder, tuning=tuning)
            scope = Scope(collection_name(dataset))
            cases = conversations(dataset)
            totals = {"standalone": 0.0, "followup_with_history": 0.0, "followup_alone": 0.0}
            for query_id, first, question, standalone in cases:
                history = [Turn("user", first), Turn("assistant", "...")]
                for name, text, turns in (
                    ("standalone", standalone, []),
                    ("followup_with_history", question, history),
                    ("followup_alone", question, []),
                ):
                    retrieval = await retriever.retrieve(text, scope=scope, k=5, history=turns)
                    ranked = dedupe([chunk_doc[p.chunk_id] for p in retrieval.passages])
                    totals[name] += recall_at(ranked, dataset.qrels[query_id], 5)
        finally:
            await embedder.close()
            await pool.close()
    finally:
        if server is not None:
            stop_embedded(server)
    result: dict[str, object] = {
        "dataset": dataset.name,
        "conversations": len(cases),
        "context_weight": weight,
        **{f"recall@5_{k}": round(v / max(len(cases), 1), 4) for k, v in totals.items()},
        "example": list(cases[0][1:]) if cases else [],
    }
    standalone = float(result["recall@5_standalone"])  # type: ignore[arg-type]
    followed = float(result["recall@5_followup_with_history"])  # type: ignore[arg-type]
    result["ratio"] = round(followed / standalone, 4) if standalone else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, nargs="?")
    parser.add_argument("--weight", type=float, default=DEFAULT_TUNING.context_weight)
    args = parse_args(parser, dataset=ROOT / "tests" / "data" / "ddhc-fr")
    if args.dataset is None:
        parser.error("name a BEIR dataset folder, e.g. ../shared/datasets/msmarco")
    print(json.dumps(asyncio.run(measure(args.dataset, args.weight)), ensure_ascii=False))


if __name__ == "__main__":
    main()
