"""What a web process outside local mode (gunicorn) needs before it serves anyone.

- ALLOWED_HOSTS must be set: the Host header is how a DNS-rebinding page reaches the site,
  and a wildcard bind (0.0.0.0) cannot guess the site's name.
- A site without an admin must not make its first visitor the admin: a one-time setup token
  is printed in the log, and POST /api/auth/setup needs it (local mode, `python -m app
  serve`, makes none: whoever runs it is at the keyboard). `python -m app users setup-token`
  makes a new one.
"""

from __future__ import annotations

import hmac
import logging

import asyncpg

from app.auth import tokens
from app.auth_settings import AuthSettings
from app.db import users as user_sql
from app.errors import ConfigError

log = logging.getLogger(__name__)

NO_HOSTS = (
    "ALLOWED_HOSTS is not set: set it to the site's host name(s), comma-separated, "
    "e.g. ALLOWED_HOSTS=rag.example.org (or * to accept any Host header, which lets DNS "
    "rebinding reach the site)"
)


def check_site_settings(settings: AuthSettings) -> None:
    """Refuse to start a public web process without the settings it must have."""
    if not settings.hosts_configured:
        raise ConfigError(NO_HOSTS)


async def new_setup_token(conn: asyncpg.Connection, *, replace: bool) -> str | None:
    """A new token when the site has no user (and none was made before, unless `replace`)."""
    if await user_sql.any_user(conn):
        return None
    token = tokens.new_secret()
    stored = await conn.fetchval(
        f"""INSERT INTO setup_token (token_hash) VALUES ($1)
            ON CONFLICT (only_one) DO {
            "UPDATE SET token_hash = $1, created_at = now()" if replace else "NOTHING"
        }
            RETURNING true""",
        tokens.digest(token),
    )
    return token if stored else None


async def offer_setup_token(pool: asyncpg.Pool) -> None:
    """At startup: print a setup token in the log when the site has no admin yet."""
    async with pool.acquire() as conn:
        token = await new_setup_token(conn, replace=False)
        made = None if token else await conn.fetchval("SELECT created_at FROM setup_token")
    if token is not None:
        log.warning(
            "this site has no admin yet: open /setup and give this one-time setup token: %s",
            token,
        )
    elif made is not None and not await _has_users(pool):
        log.warning(
            "this site has no admin yet: its setup token was printed in the log at %s; "
            "`python -m app users setup-token` prints a new one",
            made.isoformat(timespec="seconds"),
        )


async def _has_users(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        return await user_sql.any_user(conn)


async def setup_token_required(conn: asyncpg.Connection) -> bytes | None:
    """The stored token's digest, when setup needs one."""
    return await conn.fetchval("SELECT token_hash FROM setup_token")


def setup_token_matches(stored: bytes, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(stored, tokens.digest(given))
