"""Share links of conversations: snapshots taken when the link is made."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


async def create(
    conn: asyncpg.Connection,
    conversation_id: UUID,
    token_hash: bytes,
    *,
    owner_id: UUID,
    public: bool,
    expires_at: datetime | None,
) -> asyncpg.Record | None:
    """A new link to a snapshot of the owner's conversation (its title and messages now);
    None when the owner has no such conversation."""
    return await conn.fetchrow(
        """INSERT INTO conversation_shares
               (token_hash, conversation_id, owner_id, title, messages, public, expires_at)
           SELECT $2, c.id, c.user_id, c.title,
                  coalesce((SELECT jsonb_agg(jsonb_build_object(
                                'role', m.role, 'content', m.content, 'sources', m.sources,
                                'status', m.status, 'created_at', m.created_at)
                            ORDER BY m.created_at, m.id)
                            FROM messages m WHERE m.conversation_id = c.id), '[]'),
                  $4, $5
           FROM conversations c WHERE c.id = $1 AND c.user_id = $3
           RETURNING id, created_at, expires_at, public""",
        conversation_id,
        token_hash,
        owner_id,
        public,
        expires_at,
    )


async def revoke(conn: asyncpg.Connection, conversation_id: UUID, *, owner_id: UUID) -> int | None:
    """Revoke every live link of the owner's conversation: how many; None when the owner has
    no such conversation."""
    if not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2)",
        conversation_id,
        owner_id,
    ):
        return None
    status = await conn.execute(
        """UPDATE conversation_shares SET revoked_at = now()
           WHERE conversation_id = $1 AND owner_id = $2 AND revoked_at IS NULL""",
        conversation_id,
        owner_id,
    )
    return int(status.split()[-1])


async def by_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """The link with that token, with `live`: neither revoked nor expired."""
    return await conn.fetchrow(
        """SELECT s.id, s.title, s.messages, s.public, s.created_at, s.expires_at,
                  s.revoked_at, u.email AS owner,
                  (s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now()))
                      AS live
           FROM conversation_shares s JOIN users u ON u.id = s.owner_id
           WHERE s.token_hash = $1""",
        token_hash,
    )


async def live(
    conn: asyncpg.Connection, conversation_id: UUID, *, owner_id: UUID
) -> list[asyncpg.Record] | None:
    """The live links (neither revoked nor expired) of the owner's conversation, newest
    first; None when the owner has no such conversation."""
    if not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2)",
        conversation_id,
        owner_id,
    ):
        return None
    return await conn.fetch(
        """SELECT created_at, expires_at, public FROM conversation_shares
           WHERE conversation_id = $1 AND revoked_at IS NULL
             AND (expires_at IS NULL OR expires_at > now())
           ORDER BY created_at DESC""",
        conversation_id,
    )
