"""The openai provider against a tiny OpenAI-compatible embeddings server on loopback.

The server computes real embeddings with the local model, so the two providers must agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.config import ConfigError, load_settings
from app.embedders import load_embedder
from app.embedders.local import LocalEmbedder
from app.embedders.openai import EmbeddingUnavailable
from tests.conftest import run_asgi

API_KEY = "test-key"


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return asyncio.run(LocalEmbedder.load(None))


@pytest.fixture(scope="module")
def server(local: LocalEmbedder) -> Iterator[str]:
    async def embeddings(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        if body["model"] == "broken":
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        vectors = await local.embed(body["input"])
        # Answer out of order, unnormalised: the client must sort and normalise.
        data = [
            {"object": "embedding", "index": i, "embedding": (v * 3).tolist()}
            for i, v in enumerate(vectors)
        ][::-1]
        return JSONResponse({"object": "list", "data": data, "model": body["model"]})

    app = Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])
    with run_asgi(app) as url:
        yield url + "/v1"


def settings_for(base_url: str, model: str = "all-minilm", key: str = API_KEY):
    return load_settings(
        {
            "EMBEDDING_PROVIDER": "openai",
            "EMBEDDING_BASE_URL": base_url,
            "EMBEDDING_MODEL": model,
            "EMBEDDING_API_KEY": key,
        }
    )


async def test_openai_provider_matches_the_local_model(server, local):
    embedder = await load_embedder(settings_for(server))
    try:
        assert embedder.name == "openai:all-minilm" and embedder.dimension == 384
        texts = [f"Solar panel number {i} converts sunlight." for i in range(150)]
        remote = await embedder.embed(texts)  # more than one request's worth
        assert remote.shape == (150, 384)
        assert np.allclose(np.linalg.norm(remote, axis=1), 1, atol=1e-5)
        assert np.allclose(remote, await local.embed(texts), atol=1e-5)
    finally:
        await embedder.close()


async def test_service_errors_are_retryable_and_name_the_problem(server):
    with pytest.raises(EmbeddingUnavailable, match="401"):
        await load_embedder(settings_for(server, key="wrong"))
    with pytest.raises(EmbeddingUnavailable, match="503"):
        await load_embedder(settings_for(server, model="broken"))
    with pytest.raises(EmbeddingUnavailable, match="unreachable"):
        await load_embedder(settings_for("http://127.0.0.1:9/v1"))


def test_openai_provider_needs_its_settings():
    with pytest.raises(ConfigError, match="EMBEDDING_BASE_URL"):
        load_settings({"EMBEDDING_PROVIDER": "openai", "EMBEDDING_MODEL": "m"})
    with pytest.raises(ConfigError, match="EMBEDDING_MODEL"):
        load_settings({"EMBEDDING_PROVIDER": "openai", "EMBEDDING_BASE_URL": "http://x/v1"})
    with pytest.raises(ConfigError, match="EMBEDDING_BASE_URL"):
        load_settings({"EMBEDDING_BASE_URL": "ftp://x"})
