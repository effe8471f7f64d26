"""Users, keys and sessions made straight in the database, and a client that acts as them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
import httpx

from app.auth import tokens
from app.auth.passwords import hash_password
from app.db import users as user_sql

PASSWORD = "a good password"
_HASH = hash_password(PASSWORD)  # Argon2 once for every test user


@dataclass
class Person:
    email: str
    role: str
    user_id: UUID
    key: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


async def _make(url: str, email: str, role: str) -> Person:
    conn = await asyncpg.connect(url)
    try:
        user_id = await user_sql.create_user(conn, email, _HASH, role)
        key, prefix = tokens.new_api_key()
        await user_sql.create_key(conn, user_id, "test", prefix, tokens.digest(key))
    finally:
        await conn.close()
    return Person(email, role, user_id, key, {"Authorization": f"Bearer {key}"})


def make_person(url: str, email: str, role: str) -> Person:
    """A user with an API key (sent as its headers)."""
    return asyncio.run(_make(url, email, role))


async def _sql(url: str, sql: str, *args: object) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


def run_sql(url: str, sql: str, *args: object) -> None:
    asyncio.run(_sql(url, sql, *args))


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> tuple[str, str]:
    """(session cookie, CSRF token) of a new session signed in through the API."""
    with acting_as(client, None):
        response = client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        cookie = response.cookies["session"]
        client.cookies.clear()
        client.cookies.set("session", cookie)
        page = client.get("/account")
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return cookie, page.text[start : page.text.index('"', start)]


@contextlib.contextmanager
def acting_as(
    client: httpx.Client, headers: dict[str, str] | None, cookies: dict[str, str] | None = None
) -> Iterator[httpx.Client]:
    """The client with only these credentials (none: anonymous) for the block."""
    saved_headers, saved_cookies = dict(client.headers), dict(client.cookies)
    client.headers.pop("Authorization", None)
    client.headers.update(headers or {})
    client.cookies.clear()
    for name, value in (cookies or {}).items():
        client.cookies.set(name, value)
    try:
        yield client
    finally:
        client.headers.clear()
        client.headers.update(saved_headers)
        client.cookies.clear()
        for name, value in saved_cookies.items():
            client.cookies.set(name, value)
