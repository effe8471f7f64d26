"""Collections: named groups of documents that search and chat can be scoped to."""

from __future__ import annotations

import re

import asyncpg

DEFAULT = "default"
DEFAULT_ID = 1  # migrations/0003 inserts 'default' as the table's first row
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # the CHECK of migrations/0003
NAME_RULE = "up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


async def get_or_create(conn: asyncpg.Connection, name: str) -> int:
    """The id of the named collection, created when missing."""
    return await conn.fetchval(
        """WITH created AS (
               INSERT INTO collections (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
               RETURNING id)
           SELECT id FROM created UNION ALL SELECT id FROM collections WHERE name = $1
           LIMIT 1""",
        name,
    )


async def versions(conn: asyncpg.Connection, name: str | None) -> list[asyncpg.Record]:
    """(id, version) of the named collection, or of all of them when name is None."""
    return await conn.fetch(
        "SELECT id, version FROM collections WHERE $1::text IS NULL OR name = $1 ORDER BY id",
        name,
    )


async def delete_by_name(conn: asyncpg.Connection, name: str) -> bool:
    """Delete a collection with its documents and chunks."""
    return bool(await conn.fetchval("DELETE FROM collections WHERE name = $1 RETURNING true", name))


async def names(conn: asyncpg.Connection) -> list[str]:
    """Every collection's name, oldest first."""
    return [row["name"] for row in await conn.fetch("SELECT name FROM collections ORDER BY id")]


async def names_among(conn: asyncpg.Connection, ids: list[int]) -> list[str]:
    """The names of the collections with those ids, oldest first."""
    rows = await conn.fetch("SELECT name FROM collections WHERE id = ANY($1) ORDER BY id", ids)
    return [row["name"] for row in rows]


async def delete_by_id(conn: asyncpg.Connection, collection_id: int) -> None:
    """Delete a collection; its documents, files, chunks and postings go with it (cascades and
    the chunks' delete trigger), its members too."""
    await conn.execute("DELETE FROM collections WHERE id = $1", collection_id)
