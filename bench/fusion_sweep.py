"""Fusion's parameters against each ranking alone, on many BEIR sets at once.

    python bench/fusion_sweep.py DATASET_DIR... [--shares 0.7,0.8,0.85,0.9]

Each set is ingested as `python -m app eval` does (the same collection, reused); both
rankings' candidates are fetched once per judged query (app.db.search.candidates, as the
Retriever does at k = 10), then fused in memory with each vector share (lowered to
FOREIGN_SHARE for a question in a language the model was not trained on, as the Retriever
does). Prints one line per set and the last line as JSON: nDCG@10 of lexical, vector and
hybrid per share.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from app.db import search as search_sql  # noqa: E402
from app.db.embedded import stop_embedded  # noqa: E402
from app.db.pool import create_pool  # noqa: E402
from app.embedders import load_embedder  # noqa: E402
from app.eval.dataset import load_dataset  # noqa: E402
from app.eval.metrics import dedupe, ndcg_at  # noqa: E402
from app.eval.run import ensure_ingested  # noqa: E402
from app.rag.fusion import fuse, share_for  # noqa: E402
from app.resources import database_url, run_migrations  # noqa: E402
from app.text.language import readable_by  # noqa: E402
from bench.smoke import parse_args  # noqa: E402


def _mean(values: list[float]) -> float:
    return round(sum(values) / max(len(values), 1), 4)


async def sweep(directories: list[Path], shares: list[float]) -> dict[str, dict[str, float]]:
    settings = load_settings()
    dsn, server = database_url(settings)
    report: dict[str, dict[str, float]] = {}
    try:
        await run_migrations(dsn)
        pool = await create_pool(dsn, max_size=2)
        embedder = await load_embedder(settings)
        scripts = getattr(embedder, "scripts", None)
        try:
            for directory in directories:
                dataset = load_dataset(directory)
                collection_id = await ensure_ingested(pool, embedder, dataset)
                ids = list(dataset.queries)
                vectors = await embedder.embed([dataset.queries[q] for q in ids])
                async with pool.acquire() as conn:
                    rows = await conn.fetch(
                        """SELECT c.id, d.metadata->>'beir_id' AS beir_id FROM chunks c
                           JOIN documents d ON d.id = c.document_id
                           WHERE c.collection_id = $1""",
                        collection_id,
                    )
                    doc = {r["id"]: r["beir_id"] for r in rows}
                    found = [
                        await search_sql.candidates(
                            pool,
                            text=dataset.queries[q],
                            embedding=v,
                            collection_ids=[collection_id],
                            document_ids=None,
                            limit=10,
                        )  # fmt: skip
                        for q, v in zip(ids, vectors, strict=True)
                    ]
                if dump := os.environ.get("FUSION_DUMP"):  # for trying fusions offline
                    covers = [readable_by(scripts, dataset.queries[q]) for q in ids]
                    with open(Path(dump) / f"{dataset.name}.pkl", "wb") as handle:
                        pickle.dump((ids, found, covers, doc, dataset.qrels), handle)
                scores: dict[str, list[float]] = {}
                for query_id, candidates in zip(ids, found, strict=True):
                    covers = readable_by(scripts, dataset.queries[query_id])
                    languages = getattr(embedder, "languages", None)
                    runs = {
                        "lexical": [c for c, _, _ in candidates.lexical],
                        "vector": [c for c, _ in candidates.vector],
                    }
                    for share in shares:
                        fitted = share_for(languages, dataset.queries[query_id], share)
                        fused = fuse(candidates, vector_covers=covers, vector_share=fitted)
                        runs[f"hybrid@{share}"] = [c for c, _ in fused.ranked[:10]]
                    for name, chunks in runs.items():
                        ranked = dedupe([doc[c] for c in chunks])
                        relevant = dataset.qrels[query_id]
                        scores.setdefault(name, []).append(ndcg_at(ranked, relevant, 10))
                report[dataset.name] = {name: _mean(v) for name, v in scores.items()}
                print(dataset.name, json.dumps(report[dataset.name]), flush=True)
        finally:
            await embedder.close()
            await pool.close()
    finally:
        if server is not None:
            stop_embedded(server)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path, nargs="*")
    parser.add_argument("--shares", default="0.7,0.8,0.85,0.9,0.95")
    args = parse_args(parser, datasets=[ROOT / "tests" / "data" / "ddhc-fr"], shares="0.85")
    if not args.datasets:
        parser.error("name one or more BEIR dataset folders")
    shares = [float(s) for s in args.shares.split(",")]
    print(json.dumps(asyncio.run(sweep(args.datasets, shares))))


if __name__ == "__main__":
    main()
