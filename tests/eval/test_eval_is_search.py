"""`python -m app eval` measures what /api/search serves: the same Retriever, the same ranks.

Eval used to re-implement fusion and reranking, so its figures described a copy (one with
another candidate depth) of what served answers.
"""

import asyncio

from app.db.pool import create_pool
from app.embedders import load_embedder
from app.eval.dataset import load_dataset
from app.eval.run import collection_name, ensure_ingested, ranked
from app.rag.retriever import Retriever, Scope
from tests.eval.test_eval_command import write_dataset

EXTRA = [
    ("d5", "Tea", "Black tea is steeped in boiling water for four minutes."),
    ("d6", "Water", "Water boils at one hundred degrees at sea level."),
]


async def _eval_ranking(settings, dataset):
    pool = await create_pool(settings.database_url, max_size=2)
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
        scope = Scope(collection_name(dataset))
        runs = {}
        for mode in ("lexical", "vector", "hybrid"):
            runs[mode] = (
                await ranked(Retriever(pool, embedder), dataset, scope, mode, chunk_doc)
            ).top10
        return runs, chunk_doc
    finally:
        await embedder.close()
        await pool.close()


def test_eval_ranks_every_query_as_api_search_does(client, settings, tmp_path, monkeypatch):
    from tests.eval import test_eval_command

    monkeypatch.setattr(test_eval_command, "CORPUS", [*test_eval_command.CORPUS, *EXTRA])
    dataset = load_dataset(write_dataset(tmp_path / "tiny", header=False))
    runs, chunk_doc = asyncio.run(_eval_ranking(settings, dataset))
    collection = collection_name(dataset)
    for query_id, text in dataset.queries.items():
        response = client.get(
            "/api/search", params={"q": text, "k": 10, "collection": collection, "cache": "off"}
        )
        assert response.status_code == 200, response.text
        served = list(dict.fromkeys(chunk_doc[r["chunk_id"]] for r in response.json()["results"]))
        assert len(served) >= 3
        assert runs["hybrid"][query_id] == served, (text, runs["hybrid"][query_id], served)
    # The modes differ somewhere, or the comparison above could not tell them apart.
    assert runs["lexical"] != runs["vector"] or runs["lexical"] != runs["hybrid"]
