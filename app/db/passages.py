"""One stored passage (a chunk) with its document, as a citation panel shows it; and the
digest an answer keeps of each passage it cites, to tell later whether it still says that."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import asyncpg

# The same digest as digest() below, computed by Postgres over the stored text.
_SQL_DIGEST = "encode(sha256(convert_to(c.text, 'UTF8')), 'hex')"


def digest(text: str) -> str:
    """What a citation keeps of its passage's text (SHA-256, hex): a passage re-synced or
    edited since has another digest, or no longer exists."""
    return hashlib.sha256(text.encode()).hexdigest()


async def get(conn: asyncpg.Connection, chunk_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT c.id, c.document_id, c.ordinal, c.text, c.heading_path, c.page,
                  c.ocr_confidence, {_SQL_DIGEST} AS digest,
                  d.title, d.source, d.media_type
           FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = $1""",
        chunk_id,
    )


async def digests(conn: asyncpg.Connection, chunk_ids: Iterable[int]) -> dict[int, str]:
    """chunk id -> the digest of its text now, for those of `chunk_ids` that still exist."""
    rows = await conn.fetch(
        f"SELECT c.id, {_SQL_DIGEST} AS digest FROM chunks c WHERE c.id = ANY($1::bigint[])",
        sorted(set(chunk_ids)),
    )
    return {row["id"]: row["digest"] for row in rows}


def changed(source: dict[str, Any], now: dict[int, str]) -> bool:
    """Whether a stored citation's passage changed since its answer: gone, or (for answers
    that kept a digest) another text under the same id."""
    chunk_id = source.get("chunk_id")
    if not isinstance(chunk_id, int):
        return False  # nothing to open either way
    if chunk_id not in now:
        return True
    kept = source.get("digest")
    return isinstance(kept, str) and kept != now[chunk_id]
