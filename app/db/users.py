"""Users, browser sessions, API keys and invitations."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from app.errors import BadRequest

ROLES = ("admin", "editor", "reader")
USER_COLUMNS = "id, email, role, created_at, disabled_at"


async def create_user(conn: asyncpg.Connection, email: str, password_hash: str, role: str) -> UUID:
    """A new user; 400 when the email (in any case) is taken."""
    try:
        return await conn.fetchval(
            "INSERT INTO users (email, password_hash, role) VALUES ($1, $2, $3) RETURNING id",
            email,
            password_hash,
            role,
        )
    except asyncpg.UniqueViolationError:
        raise BadRequest(f"there is already a user {email!r}", code="email_taken") from None


async def any_user(conn: asyncpg.Connection) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)")


async def by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)", email
    )


async def by_id(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1", user_id
    )


async def list_users(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at, email")


async def set_role(conn: asyncpg.Connection, user_id: UUID, role: str) -> bool:
    return (
        await conn.fetchval(
            "UPDATE users SET role = $2 WHERE id = $1 RETURNING true", user_id, role
        )
        or False
    )


async def set_disabled(conn: asyncpg.Connection, user_id: UUID, disabled: bool) -> bool:
    """Disable a user (their sessions end; their keys open nothing while disabled) or enable
    them again."""
    found = await conn.fetchval(
        """UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
           WHERE id = $1 RETURNING true""",
        user_id,
        disabled,
    )
    if found and disabled:
        await end_sessions(conn, user_id)
    return found or False


async def set_password(conn: asyncpg.Connection, user_id: UUID, password_hash: str) -> None:
    """Change a password and end every session of the user."""
    await conn.execute(
        "UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1",
        user_id,
        password_hash,
    )
    await end_sessions(conn, user_id)


# Sessions ----------------------------------------------------------------------------------


async def create_session(
    conn: asyncpg.Connection, id_hash: bytes, user_id: UUID, csrf_token: str, max_seconds: float
) -> None:
    await conn.execute(
        """INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(secs => $4))""",
        id_hash,
        user_id,
        csrf_token,
        max_seconds,
    )


async def session_user(
    conn: asyncpg.Connection, id_hash: bytes, idle_seconds: float
) -> asyncpg.Record | None:
    """The user of a live session (and its CSRF token); its idle clock is reset at most once a
    minute, so most requests only read."""
    return await conn.fetchrow(
        """WITH s AS (
               SELECT id_hash, user_id, csrf_token, last_seen_at FROM sessions
               WHERE id_hash = $1 AND expires_at > now()
                 AND last_seen_at > now() - make_interval(secs => $2)),
           touched AS (
               UPDATE sessions SET last_seen_at = now()
               WHERE id_hash = (SELECT id_hash FROM s
                                WHERE last_seen_at < now() - '1 minute'::interval))
           SELECT u.id, u.email, u.role, s.csrf_token,
                  ARRAY(SELECT c.id FROM collections c
                         WHERE u.role = 'admin' OR c.visibility = 'shared' OR c.owner_id = u.id
                            OR EXISTS (SELECT 1 FROM collection_members m
                                       WHERE m.collection_id = c.id AND m.user_id = u.id)
                         ORDER BY c.id) AS readable
           FROM s JOIN users u ON u.id = s.user_id WHERE u.disabled_at IS NULL""",
        id_hash,
        idle_seconds,
    )


async def end_session(conn: asyncpg.Connection, id_hash: bytes) -> None:
    await conn.execute("DELETE FROM sessions WHERE id_hash = $1", id_hash)


async def end_sessions(conn: asyncpg.Connection, user_id: UUID) -> None:
    await conn.execute("DELETE FROM sessions WHERE user_id = $1", user_id)


# API keys ----------------------------------------------------------------------------------


async def create_key(
    conn: asyncpg.Connection,
    user_id: UUID,
    name: str,
    prefix: str,
    key_hash: bytes,
    expires_at: datetime | None = None,
    scopes: tuple[str, ...] = (),
) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO api_keys (user_id, name, prefix, key_hash, expires_at, scopes)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, name, prefix, created_at, expires_at, last_used_at, revoked_at,
                     scopes""",
        user_id,
        name,
        prefix,
        key_hash,
        expires_at,
        list(scopes),
    )


async def revoke_keys(conn: asyncpg.Connection, user_id: UUID) -> int:
    """Revoke every live key of a user (a password change); how many."""
    return len(
        await conn.fetch(
            """UPDATE api_keys SET revoked_at = now()
               WHERE user_id = $1 AND revoked_at IS NULL RETURNING 1""",
            user_id,
        )
    )


async def key_user(conn: asyncpg.Connection, key_hash: bytes) -> asyncpg.Record | None:
    """The user of a live key; its last-used time is written at most once a minute."""
    return await conn.fetchrow(
        """WITH k AS (
               SELECT id, user_id, last_used_at, scopes FROM api_keys
               WHERE key_hash = $1 AND revoked_at IS NULL
                 AND (expires_at IS NULL OR expires_at > now())),
           touched AS (
               UPDATE api_keys SET last_used_at = now()
               WHERE id = (SELECT id FROM k WHERE last_used_at IS NULL
                                               OR last_used_at < now() - '1 minute'::interval))
           SELECT u.id, u.email, u.role, k.id AS key_id, k.scopes,
                  ARRAY(SELECT c.id FROM collections c
                         WHERE u.role = 'admin' OR c.visibility = 'shared' OR c.owner_id = u.id
                            OR EXISTS (SELECT 1 FROM collection_members m
                                       WHERE m.collection_id = c.id AND m.user_id = u.id)
                         ORDER BY c.id) AS readable
           FROM k JOIN users u ON u.id = k.user_id WHERE u.disabled_at IS NULL""",
        key_hash,
    )


async def list_keys(conn: asyncpg.Connection, user_id: UUID | None = None) -> list[asyncpg.Record]:
    """Keys of one user (or all, with their owner's email), newest first."""
    return await conn.fetch(
        """SELECT k.id, k.name, k.prefix, k.created_at, k.expires_at, k.last_used_at,
                  k.revoked_at, k.scopes, u.email
           FROM api_keys k JOIN users u ON u.id = k.user_id
           WHERE $1::uuid IS NULL OR k.user_id = $1
           ORDER BY k.created_at DESC""",
        user_id,
    )


async def revoke_key(conn: asyncpg.Connection, prefix: str, user_id: UUID | None = None) -> bool:
    """Revoke a key by its prefix (only the user's own when user_id is given)."""
    return (
        await conn.fetchval(
            """UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
               WHERE prefix = $1 AND ($2::uuid IS NULL OR user_id = $2) RETURNING true""",
            prefix,
            user_id,
        )
        or False
    )


# Invitations -------------------------------------------------------------------------------


async def create_invitation(
    conn: asyncpg.Connection,
    token_hash: bytes,
    role: str,
    email: str | None,
    created_by: UUID | None,
    valid_seconds: float,
) -> datetime:
    return await conn.fetchval(
        """INSERT INTO invitations (token_hash, role, email, created_by, expires_at)
           VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING expires_at""",
        token_hash,
        role,
        email,
        created_by,
        valid_seconds,
    )


async def open_invitation(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT role, email, expires_at FROM invitations
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()""",
        token_hash,
    )


async def use_invitation(conn: asyncpg.Connection, token_hash: bytes, user_id: UUID) -> bool:
    """Mark an invitation used (once: a second use finds nothing)."""
    return (
        await conn.fetchval(
            """UPDATE invitations SET used_at = now(), used_by = $2
               WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
               RETURNING true""",
            token_hash,
            user_id,
        )
        or False
    )


async def list_invitations(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT role, email, created_at, expires_at, used_at FROM invitations
           ORDER BY created_at DESC LIMIT 100"""
    )
