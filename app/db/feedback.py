"""Thumbs up/down on answers, with an optional comment."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def upsert(conn: asyncpg.Connection, message_id: UUID, rating: int, comment: str) -> bool:
    """Store a rating of an assistant message; False when there is no such message."""
    return bool(
        await conn.fetchval(
            """INSERT INTO message_feedback (message_id, rating, comment)
               SELECT id, $2, $3 FROM messages WHERE id = $1 AND role = 'assistant'
               ON CONFLICT (message_id) DO UPDATE
               SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, updated_at = now()
               RETURNING true""",
            message_id,
            rating,
            comment,
        )
    )


async def for_conversation(conn: asyncpg.Connection, conversation_id: UUID) -> dict[UUID, int]:
    """message id -> rating, for the messages of one conversation."""
    rows = await conn.fetch(
        """SELECT f.message_id, f.rating FROM message_feedback f
           JOIN messages m ON m.id = f.message_id WHERE m.conversation_id = $1""",
        conversation_id,
    )
    return {r["message_id"]: r["rating"] for r in rows}


async def recent(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """The latest ratings with the answer and the question before it (for admins)."""
    return await conn.fetch(
        """SELECT f.message_id, f.rating, f.comment, f.updated_at, m.conversation_id,
                  m.content AS answer,
                  (SELECT q.content FROM messages q
                   WHERE q.conversation_id = m.conversation_id AND q.role = 'user'
                     AND q.created_at <= m.created_at
                   ORDER BY q.created_at DESC LIMIT 1) AS question
           FROM message_feedback f JOIN messages m ON m.id = f.message_id
           ORDER BY f.updated_at DESC LIMIT $1""",
        limit,
    )
