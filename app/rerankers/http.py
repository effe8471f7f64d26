"""A reranking server's /rerank API: TEI, Infinity, Jina and Cohere share its request shape.

Request `{"query", "documents"|"texts", "model"?, "return_documents": false}`; TEI answers a
list of `{"index", "score"}`, the others `{"results": [{"index", "relevance_score"}]}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from app.config import Settings
from app.rerankers.base import RerankError


class HttpReranker:
    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 10,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout
        )
        self._model = model
        self.name = f"http:{model or base_url}"

    async def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        body: dict[str, Any] = {
            "query": query,
            "documents": list(texts),  # Cohere, Jina, Infinity
            "texts": list(texts),  # TEI
            "return_documents": False,
            "return_text": False,
        }
        if self._model:
            body["model"] = self._model
        try:
            response = await self._client.post("rerank", json=body)
        except httpx.HTTPError as exc:
            raise RerankError(f"the reranker is unreachable: {exc}") from None
        if response.status_code != 200:
            raise RerankError(f"the reranker answered HTTP {response.status_code}")
        try:
            data = response.json()
            items = data["results"] if isinstance(data, dict) else data
            scores = [0.0] * len(texts)
            seen = 0
            for item in items:
                value = item.get("relevance_score", item.get("score"))
                scores[int(item["index"])] = float(value)
                seen += 1
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise RerankError(f"the reranker answered nonsense: {exc}") from None
        if seen != len(texts):
            raise RerankError(f"asked to score {len(texts)} passages, got {seen} scores")
        return scores

    async def close(self) -> None:
        await self._client.aclose()


async def from_settings(settings: Settings) -> HttpReranker:
    """RERANK_PROVIDER=http: a /rerank server at RERANK_BASE_URL (checked by config)."""
    assert settings.rerank_base_url
    return HttpReranker(
        settings.rerank_base_url, model=settings.rerank_model, api_key=settings.rerank_api_key
    )
