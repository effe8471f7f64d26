"""OpenID Connect: sign-ins in progress (state, nonce, PKCE verifier) and linked identities."""

from __future__ import annotations

from uuid import UUID

import asyncpg

LOGIN_SECONDS = 600  # a sign-in must come back from the provider within ten minutes
# An account made by OIDC has no password: this is no Argon2 hash, so no password matches it.
NO_PASSWORD = "!oidc"


async def start_login(
    conn: asyncpg.Connection, state_hash: bytes, nonce: str, code_verifier: str, next_path: str
) -> None:
    """Keep a sign-in sent to the provider (and drop those that never came back)."""
    await conn.execute("DELETE FROM oidc_logins WHERE expires_at < now()")
    await conn.execute(
        """INSERT INTO oidc_logins (state_hash, nonce, code_verifier, next_path, expires_at)
           VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))""",
        state_hash,
        nonce,
        code_verifier,
        next_path,
        LOGIN_SECONDS,
    )


async def take_login(conn: asyncpg.Connection, state_hash: bytes) -> asyncpg.Record | None:
    """The sign-in with this state, used once: a second callback with it finds nothing."""
    return await conn.fetchrow(
        """DELETE FROM oidc_logins WHERE state_hash = $1
           RETURNING nonce, code_verifier, next_path, expires_at > now() AS live""",
        state_hash,
    )


async def linked_user(conn: asyncpg.Connection, issuer: str, subject: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT u.id, u.email, u.role, u.disabled_at FROM user_identities i
           JOIN users u ON u.id = i.user_id WHERE i.issuer = $1 AND i.subject = $2""",
        issuer,
        subject,
    )


async def user_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, email, role, disabled_at FROM users WHERE lower(email) = lower($1)", email
    )


async def link(
    conn: asyncpg.Connection, issuer: str, subject: str, user_id: UUID, email: str | None
) -> None:
    """Link the provider's account to the user, or note its latest sign-in."""
    await conn.execute(
        """INSERT INTO user_identities (issuer, subject, user_id, email) VALUES ($1, $2, $3, $4)
           ON CONFLICT (issuer, subject)
           DO UPDATE SET last_sign_in = now(), email = EXCLUDED.email""",
        issuer,
        subject,
        user_id,
        email,
    )
