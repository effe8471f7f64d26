"""The audit log: security events appended, read with filters, pruned past their retention."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

# What is recorded (the admin page's filter offers these).
ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "password_changed",
    "key_created",
    "key_revoked",
    "role_changed",
    "user_disabled",
    "user_enabled",
    "invitation_created",
    "collection_sharing_changed",
    "collection_assistant_changed",
    "document_deleted",
    "setup",
    "sign_up",
)


async def record(
    conn: asyncpg.Connection,
    action: str,
    *,
    actor_id: UUID | None,
    actor_email: str | None,
    address: str | None,
    user_agent: str | None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (action, actor_id, actor_email, address, user_agent, target,
                                  details)
           VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)""",
        action,
        actor_id,
        actor_email,
        address,
        (user_agent or "")[:500] or None,
        target,
        # Sent as text: the pool's jsonb codec would encode the JSON text a second time.
        json.dumps(details or {}),
    )


async def events(
    conn: asyncpg.Connection,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[asyncpg.Record]:
    """Newest first; `actor` matches the actor's email (any case), `before_id` pages on."""
    return await conn.fetch(
        """SELECT id, at, action, actor_id, actor_email, address, user_agent, target, details
           FROM audit_log
           WHERE ($1::text IS NULL OR lower(actor_email) = lower($1))
             AND ($2::text IS NULL OR action = $2)
             AND ($3::timestamptz IS NULL OR at >= $3)
             AND ($4::bigint IS NULL OR id < $4)
           ORDER BY id DESC LIMIT $5""",
        actor,
        action,
        since,
        before_id,
        limit,
    )


async def prune(conn: asyncpg.Connection, retention_days: int) -> int:
    """Delete the events older than the retention; how many went."""
    async with conn.transaction():
        await conn.execute("SET LOCAL audit.pruning = 'on'")
        deleted = await conn.fetchval(
            """WITH gone AS (DELETE FROM audit_log
                             WHERE at < now() - make_interval(days => $1) RETURNING 1)
               SELECT count(*) FROM gone""",
            retention_days,
        )
        await conn.execute("SET LOCAL audit.pruning = 'off'")  # within an outer transaction too
    return int(deleted)
