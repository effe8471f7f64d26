"""Follow-up questions: recall@5 with the conversation, alone, and as the standalone question
they stand for.

    python bench/followups.py DATASET [--weight 0.3] [--window 6]

A conversational set (queries.jsonl lines with `history` and `rewrite`, as
bench/canard_to_beir.py writes from CANARD) brings its own conversations and human rewrites.
A plain BEIR set gets two-turn ones: each judged query's rarest word in the corpus (its
subject, mostly: "ohio" in "what is the population of ohio") is asked about first ("Tell me
about ohio."), then the query follows with that word replaced by "it", and the standalone
question is the query itself.

The follow-up is searched by the app's Retriever with the history the app would send (the
last `--window` messages and the first question; no LLM: the earlier questions' terms at a
lower weight), and also alone, and the standalone question. The goal (issue 21): follow-up
recall@5 >= 0.9 x standalone, reported per half of the queries (by a hash of the id: rules
are tuned on "tune", checked on "validate"). The corpus is ingested as `python -m app eval`
does (same collection, reused). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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
from app.rag.answer import HISTORY_MESSAGES  # noqa: E402
from app.rag.retriever import Retriever, Scope  # noqa: E402
from app.resources import database_url, run_migrations  # noqa: E402
from bench.smoke import parse_args  # noqa: E402

_WORD = re.compile(r"[^\W_]{3,}")


Case = tuple[str, list[Turn], str, str]  # (query id, history, follow-up, standalone question)


def constructed(dataset: Dataset) -> list[Case]:
    """Two-turn conversations made from a plain BEIR set, per judged query whose subject word
    can be told."""
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
        history = [Turn("user", f"Tell me about {subject}."), Turn("assistant", "...")]
        cases.append((query_id, history, pattern.sub("it", text), text))
    return cases


def recorded(directory: Path, dataset: Dataset) -> list[Case] | None:
    """The conversations a conversational set records (queries with `history` and `rewrite`,
    as bench/canard_to_beir.py writes them); None for a plain BEIR set."""
    cases = []
    for line in (directory / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        query = json.loads(line) if line.strip() else {}
        if "history" not in query:
            return None
        if str(query["_id"]) in dataset.qrels:
            history = [Turn(role, text) for role, text in query["history"]]
            cases.append((str(query["_id"]), history, query["text"], query["rewrite"]))
    return cases


def sent(history: list[Turn], window: int) -> list[Turn]:
    """What the app sends of a stored conversation (conversations.recent_messages): the last
    `window` messages (HISTORY_MESSAGES) and the first question."""
    turns = history[-window:]
    first = next((t for t in history if t.role == "user"), None)
    return turns if first is None or first in turns else [first, *turns]


def half(query_id: str) -> str:
    """The query's half, by a hash of its id: tune rules on one, validate on the other."""
    return "tune" if hashlib.sha256(query_id.encode()).digest()[0] % 2 == 0 else "validate"


async def measure(directory: Path, weight: float, window: int) -> dict[str, object]:
    dataset = load_dataset(directory)
    cases = recorded(directory, dataset)
    if cases is None:
        cases = constructed(dataset)
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
            totals: dict[str, Counter[str]] = {"tune": Counter(), "validate": Counter()}
            for query_id, history, question, standalone in cases:
                turns = sent(history, window)
                part = totals[half(query_id)]
                part["conversations"] += 1
                for name, text, context in (
                    ("standalone", standalone, []),
                    ("followup_with_history", question, turns),
                    ("followup_alone", question, []),
                ):
                    retrieval = await retriever.retrieve(text, scope=scope, k=5, history=context)
                    ranked = dedupe([chunk_doc[p.chunk_id] for p in retrieval.passages])
                    part[name] += recall_at(ranked, dataset.qrels[query_id], 5)
        finally:
            await embedder.close()
            await pool.close()
    finally:
        if server is not None:
            stop_embedded(server)
    result: dict[str, object] = {
        "dataset": dataset.name,
        "context_weight": weight,
        "window": window,
        "example": [[t.content for t in cases[0][1]], *cases[0][2:]] if cases else [],
    }
    for name, part in totals.items():
        count = max(part.pop("conversations", 0), 1)
        scores = {f"recall@5_{k}": round(v / count, 4) for k, v in part.items()}
        standalone = scores.get("recall@5_standalone", 0.0)
        followed = scores.get("recall@5_followup_with_history", 0.0)
        ratio = round(followed / standalone, 4) if standalone else None
        result[name] = {"conversations": count, **scores, "ratio": ratio}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, nargs="?")
    parser.add_argument("--weight", type=float, default=DEFAULT_TUNING.context_weight)
    parser.add_argument(
        "--window", type=int, default=HISTORY_MESSAGES, help="messages of history sent"
    )
    args = parse_args(parser, dataset=ROOT / "tests" / "data" / "ddhc-fr")
    if args.dataset is None:
        parser.error("name a BEIR dataset folder, e.g. ../shared/datasets/msmarco")
    print(
        json.dumps(asyncio.run(measure(args.dataset, args.weight, args.window)), ensure_ascii=False)
    )


if __name__ == "__main__":
    main()
