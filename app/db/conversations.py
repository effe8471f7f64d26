"""Conversations and their messages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def create(conn: asyncpg.Connection, title: str) -> UUID:
    return await conn.fetchval("INSERT INTO conversations (title) VALUES ($1) RETURNING id", title)


async def exists(conn: asyncpg.Connection, conversation_id: UUID) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1)", conversation_id
    )


async def add_message(
    conn: asyncpg.Connection,
    conversation_id: UUID,
    role: str,
    content: str,
    *,
    sources: list[dict[str, Any]] | None = None,
    message_id: UUID | None = None,
) -> UUID:
    message_id = await conn.fetchval(
        """INSERT INTO messages (id, conversation_id, role, content, sources)
           VALUES (coalesce($1, gen_random_uuid()), $2, $3, $4, $5) RETURNING id""",
        message_id,
        conversation_id,
        role,
        content,
        sources or [],
    )
    await conn.execute("UPDATE conversations SET updated_at = now() WHERE id = $1", conversation_id)
    return message_id


async def messages(conn: asyncpg.Connection, conversation_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, role, content, sources, created_at FROM messages
           WHERE conversation_id = $1 ORDER BY created_at, id""",
        conversation_id,
    )
