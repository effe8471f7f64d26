"""Collection assistants: the stored answer settings of one collection (migrations/0027)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

FIELDS = ("instructions", "length", "passages", "rerank", "model")


async def get(conn: asyncpg.Connection, collection_id: int) -> asyncpg.Record | None:
    """The collection's settings (FIELDS, updated_at); None when none were ever set."""
    return await conn.fetchrow(
        """SELECT instructions, length, passages, rerank, model, updated_at
           FROM collection_assistants WHERE collection_id = $1""",
        collection_id,
    )


async def put(
    conn: asyncpg.Connection, collection_id: int, settings: dict[str, Any], *, user_id: UUID
) -> asyncpg.Record:
    """Replace the collection's settings with `settings` (every one of FIELDS)."""
    return await conn.fetchrow(
        """INSERT INTO collection_assistants
               (collection_id, instructions, length, passages, rerank, model, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (collection_id) DO UPDATE SET
               instructions = EXCLUDED.instructions, length = EXCLUDED.length,
               passages = EXCLUDED.passages, rerank = EXCLUDED.rerank, model = EXCLUDED.model,
               updated_by = EXCLUDED.updated_by, updated_at = now()
           RETURNING instructions, length, passages, rerank, model, updated_at""",
        collection_id,
        *(settings[f] for f in FIELDS),
        user_id,
    )


async def models(conn: asyncpg.Connection, collection_ids: list[int]) -> dict[str, str]:
    """The model chosen for each of these collections that has one, by collection name."""
    rows = await conn.fetch(
        """SELECT c.name, a.model FROM collection_assistants a
           JOIN collections c ON c.id = a.collection_id
           WHERE a.collection_id = ANY($1) AND a.model IS NOT NULL""",
        collection_ids,
    )
    return {r["name"]: r["model"] for r in rows}
