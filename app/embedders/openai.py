"""Embeddings from any OpenAI-compatible `/v1/embeddings` endpoint, through httpx."""

from __future__ import annotations

import math
from collections.abc import Sequence

import httpx
import numpy as np

from app.config import Settings
from app.errors import EmbeddingUnavailable

# Texts per request: OpenAI accepts 2048; smaller requests fail and retry more cheaply.
BATCH = 64


class OpenAIEmbedder:
    """EMBEDDING_MODEL at EMBEDDING_BASE_URL; the dimension is learnt from one probe call."""

    def __init__(
        self, client: httpx.AsyncClient, model: str, dimension: int, max_tokens: int
    ) -> None:
        self._client = client
        self._model = model
        self.name = f"openai:{model}"
        self.dimension = dimension
        self.max_tokens = max_tokens

    @classmethod
    async def load(
        cls,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_tokens: int = 512,
        timeout: float = 60,
    ) -> OpenAIEmbedder:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout
        )
        embedder = cls(client, model, dimension=0, max_tokens=max_tokens)
        try:
            embedder.dimension = (await embedder._request(["dimension probe"])).shape[1]
        except BaseException:
            await client.aclose()
            raise
        return embedder

    def count_tokens(self, text: str) -> int:
        # No tokenizer for a remote model: ~4 characters a token in English, rounded up so
        # chunks stay inside the window rather than being cut by the server.
        return math.ceil(len(text) / 3)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [await self._request(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        return np.concatenate(parts)

    async def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        # The API returns one vector per input, not its tokens: spans are embedded on demand.
        return await self.embed(texts), [None] * len(texts)

    async def _request(self, texts: Sequence[str]) -> np.ndarray:
        try:
            response = await self._client.post(
                "embeddings", json={"model": self._model, "input": list(texts)}
            )
        except httpx.HTTPError as exc:
            raise EmbeddingUnavailable(f"the embedding service is unreachable: {exc}") from None
        if response.status_code != 200:
            raise EmbeddingUnavailable(
                f"the embedding service answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingUnavailable(f"the embedding service answered nonsense: {exc}") from None
        if vectors.shape[0] != len(texts):
            raise EmbeddingUnavailable(
                f"asked for {len(texts)} embeddings, the service returned {vectors.shape[0]}"
            )
        # Cosine search expects unit vectors; not every server normalises.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    async def close(self) -> None:
        await self._client.aclose()


async def from_settings(settings: Settings, *, threads: int = 0) -> OpenAIEmbedder:
    """EMBEDDING_PROVIDER=openai: an /embeddings server (config checked its URL and model)."""
    assert settings.embedding_base_url and settings.embedding_model
    return await OpenAIEmbedder.load(
        settings.embedding_base_url,
        settings.embedding_model,
        api_key=settings.embedding_api_key,
        max_tokens=settings.embedding_max_tokens,
    )
