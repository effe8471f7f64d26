"""Browser sessions: a random id in an HttpOnly cookie, its digest and CSRF token in Postgres."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.auth import tokens
from app.auth.middleware import SESSION_COOKIE
from app.auth_settings import AuthSettings
from app.db import users as user_sql


async def start(conn: asyncpg.Connection, user_id: UUID, settings: AuthSettings) -> str:
    """A new session for the user; returns the cookie value."""
    session_id = tokens.new_secret()
    await user_sql.create_session(
        conn, tokens.digest(session_id), user_id, tokens.new_secret(), settings.session_max_seconds
    )
    return session_id


def is_tls(request: HTTPConnection) -> bool:
    """Over TLS, directly or through a proxy in FORWARDED_ALLOW_IPS (the middleware decided)."""
    return request.scope["state"].get("site_origin", "").startswith("https://")


def set_cookie(request: HTTPConnection, response: Response, session_id: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_tls(request),
    )


def clear_cookie(request: HTTPConnection, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_tls(request)
    )
