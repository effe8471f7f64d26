"""Find the passages that answer a question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from app.db import chunks as chunk_sql
from app.rag.embedders import Embedder


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    document_id: str
    title: str
    text: str
    snippet: str
    page: int | None
    heading_path: list[str]
    score: float

    def to_json(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "document_id": self.document_id,
            "title": self.title,
            "text": self.text,
            "snippet": self.snippet,
            "page": self.page,
            "heading_path": self.heading_path,
            "score": round(self.score, 6),
        }


async def search(pool: asyncpg.Pool, embedder: Embedder, question: str, k: int) -> list[Passage]:
    """Hybrid search: the k best chunks for the question."""
    vector = (await embedder.embed([question]))[0]
    async with pool.acquire() as conn:
        rows = await chunk_sql.hybrid_search(conn, text=question, embedding=vector, k=k)
    return [
        Passage(
            chunk_id=row["chunk_id"],
            document_id=str(row["document_id"]),
            title=row["title"],
            text=row["text"],
            snippet=row["snippet"],
            page=row["page"],
            heading_path=list(row["heading_path"]),
            score=row["score"],
        )
        for row in rows
    ]
