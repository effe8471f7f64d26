"""A user's data as it is stored, for exports: conversations with every message column and
the feedback on each answer, feedback alone, API key names."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

# Every column of a message (to_jsonb: columns added later come along), and its feedback.
_MESSAGES = """
    SELECT m.conversation_id,
           to_jsonb(m) - 'conversation_id' AS message,
           to_jsonb(f) - 'message_id' AS feedback
    FROM messages m LEFT JOIN message_feedback f ON f.message_id = m.id
    WHERE m.conversation_id = ANY($1::uuid[])
    ORDER BY m.created_at, m.id"""


async def conversations(
    conn: asyncpg.Connection, *, user_id: UUID, conversation_id: UUID | None = None
) -> list[dict[str, Any]]:
    """The user's conversations (one, when `conversation_id` is given), oldest first, each
    with its messages, oldest first, and each message's `feedback` (or None)."""
    rows = await conn.fetch(
        """SELECT id, title, created_at, updated_at FROM conversations
           WHERE user_id = $1 AND ($2::uuid IS NULL OR id = $2)
           ORDER BY created_at, id""",
        user_id,
        conversation_id,
    )
    found = {
        r["id"]: {
            "id": str(r["id"]),
            "title": r["title"],
            "created_at": r["created_at"].isoformat(),
            "updated_at": r["updated_at"].isoformat(),
            "messages": [],
        }
        for r in rows
    }
    for row in await conn.fetch(_MESSAGES, list(found)):
        found[row["conversation_id"]]["messages"].append(
            {**row["message"], "feedback": row["feedback"]}
        )
    return list(found.values())


async def feedback(conn: asyncpg.Connection, *, user_id: UUID) -> list[dict[str, Any]]:
    """Every rating the user gave, with the conversation it is in, oldest first."""
    rows = await conn.fetch(
        """SELECT to_jsonb(f) || jsonb_build_object('conversation_id', m.conversation_id) AS row
           FROM message_feedback f JOIN messages m ON m.id = f.message_id
           JOIN conversations c ON c.id = m.conversation_id
           WHERE c.user_id = $1 ORDER BY f.created_at, f.message_id""",
        user_id,
    )
    return [r["row"] for r in rows]
