"""Thumbs up/down on answers, with an optional comment."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def upsert(
    conn: asyncpg.Connection, message_id: UUID, rating: int, comment: str, *, user_id: UUID
) -> bool:
    """Store a rating of an assistant message in one of the user's conversations; False when
    they have no such message."""
    return bool(
        await conn.fetchval(
            """INSERT INTO message_feedback (message_id, rating, comment)
               SELECT m.id, $2, $3 FROM messages m
               JOIN conversations c ON c.id = m.conversation_id
               WHERE m.id = $1 AND m.role = 'assistant' AND c.user_id = $4
               ON CONFLICT (message_id) DO UPDATE
               SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, updated_at = now()
               RETURNING true""",
            message_id,
            rating,
            comment,
            user_id,
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
