"""Conversations and their messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg


async def start(conn: asyncpg.Connection, title: str, question: str, *, user_id: UUID) -> UUID:
    """A new conversation of the user with its first question, in one statement."""
    return await conn.fetchval(
        """WITH conversation AS (INSERT INTO conversations (title, user_id) VALUES ($1, $3)
                                 RETURNING id),
                question AS (INSERT INTO messages (conversation_id, role, content)
                             SELECT id, 'user', $2 FROM conversation)
           SELECT id FROM conversation""",
        title,
        question,
        user_id,
    )


async def exists(conn: asyncpg.Connection, conversation_id: UUID, *, user_id: UUID) -> bool:
    """Whether the user has that conversation (someone else's does not exist for them)."""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2)",
        conversation_id,
        user_id,
    )


@dataclass(frozen=True)
class AnswerFacts:
    """What an answer was, kept with it so a reload shows the same notices (migration 0013)."""

    provider: str  # "extractive": quoted sentences, no language model
    answered: bool  # False: the documents did not answer it
    unsupported_citations: list[dict[str, Any]]


async def add_message(
    conn: asyncpg.Connection,
    conversation_id: UUID,
    role: str,
    content: str,
    *,
    sources: list[dict[str, Any]] | None = None,
    message_id: UUID | None = None,
    facts: AnswerFacts | None = None,
) -> UUID:
    message_id = await conn.fetchval(
        # A finished answer replaces the interrupted one a resuming worker may have kept when
        # this one seemed gone (same id).
        """INSERT INTO messages (id, conversation_id, role, content, sources, provider,
                                 answered, unsupported_citations)
           VALUES (coalesce($1, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content,
               sources = EXCLUDED.sources, status = 'complete',
               provider = EXCLUDED.provider, answered = EXCLUDED.answered,
               unsupported_citations = EXCLUDED.unsupported_citations
           RETURNING id""",
        message_id,
        conversation_id,
        role,
        content,
        sources or [],
        None if facts is None else facts.provider,
        None if facts is None else facts.answered,
        None if facts is None else facts.unsupported_citations,
    )
    await conn.execute("UPDATE conversations SET updated_at = now() WHERE id = $1", conversation_id)
    return message_id


async def keep_interrupted(
    conn: asyncpg.Connection,
    conversation_id: UUID,
    message_id: UUID,
    content: str,
    sources: list[dict[str, Any]],
) -> bool:
    """Store what was streamed of an answer that did not finish, marked interrupted; False
    when nothing was stored: the answer is already there (stored complete after all, or kept
    before), or its conversation was deleted meanwhile."""
    status = await conn.execute(
        """WITH kept AS (
               INSERT INTO messages (id, conversation_id, role, content, sources, status)
               SELECT $1, id, 'assistant', $3, $4, 'interrupted' FROM conversations
               WHERE id = $2
               ON CONFLICT (id) DO NOTHING RETURNING conversation_id)
           UPDATE conversations SET updated_at = now()
           WHERE id IN (SELECT conversation_id FROM kept)""",
        message_id,
        conversation_id,
        content,
        sources,
    )
    return status == "UPDATE 1"


async def messages(conn: asyncpg.Connection, conversation_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, role, content, sources, status, provider, answered,
                  unsupported_citations, created_at FROM messages
           WHERE conversation_id = $1 ORDER BY created_at, id""",
        conversation_id,
    )


async def recent_messages(
    conn: asyncpg.Connection, conversation_id: UUID, limit: int
) -> list[asyncpg.Record]:
    """The last `limit` messages and the conversation's first question (it names what the
    conversation is about; later questions often only point back to it), oldest first;
    interrupted answers are left out (a cut answer is no context for the next question, and a
    retry would repeat it)."""
    return await conn.fetch(
        """SELECT role, content FROM (
               (SELECT id, role, content, created_at FROM messages
                WHERE conversation_id = $1 AND status <> 'interrupted'
                ORDER BY created_at DESC, id DESC LIMIT $2)
               UNION
               (SELECT id, role, content, created_at FROM messages
                WHERE conversation_id = $1 AND role = 'user'
                ORDER BY created_at, id LIMIT 1)
           ) kept ORDER BY created_at, id""",
        conversation_id,
        limit,
    )


async def list_conversations(
    conn: asyncpg.Connection, limit: int, query: str | None = None, *, user_id: UUID
) -> list[asyncpg.Record]:
    """The user's, newest first; only those whose title contains `query` (any case) if given."""
    return await conn.fetch(
        """SELECT c.id, c.title, c.created_at, c.updated_at,
                  (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)::int
                      AS message_count
           FROM conversations c
           WHERE c.user_id = $3 AND ($2::text IS NULL OR strpos(lower(c.title), lower($2)) > 0)
           ORDER BY c.updated_at DESC, c.id LIMIT $1""",
        limit,
        query,
        user_id,
    )


async def rename(
    conn: asyncpg.Connection, conversation_id: UUID, title: str, *, user_id: UUID
) -> bool:
    """Give the user's conversation a new title; False if they have none such."""
    status = await conn.execute(
        "UPDATE conversations SET title = $2 WHERE id = $1 AND user_id = $3",
        conversation_id,
        title,
        user_id,
    )
    return status == "UPDATE 1"


async def get(
    conn: asyncpg.Connection, conversation_id: UUID, *, user_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT id, title, created_at, updated_at FROM conversations
           WHERE id = $1 AND user_id = $2""",
        conversation_id,
        user_id,
    )


async def delete(conn: asyncpg.Connection, conversation_id: UUID, *, user_id: UUID) -> bool:
    """Delete the user's conversation and its messages; False if they have none such."""
    status = await conn.execute(
        "DELETE FROM conversations WHERE id = $1 AND user_id = $2", conversation_id, user_id
    )
    return status == "DELETE 1"
