"""Collections: named groups of documents that search and chat can be scoped to."""

from __future__ import annotations

import re

import asyncpg

DEFAULT = "default"
DEFAULT_ID = 1  # migrations/0003 inserts 'default' as the table's first row
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # the CHECK of migrations/0003
NAME_RULE = "up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# Where a name is taken, "id:17" names one collection by its id: names are unique per owner
# only, so two readable collections may share one.
REFERENCE = re.compile(r"^id:[0-9]{1,9}$")


async def get_or_create(conn: asyncpg.Connection, name: str) -> int:
    """The id of the named collection without an owner (shared: the command line's), created
    when missing."""
    return await conn.fetchval(
        """WITH created AS (
               INSERT INTO collections (name) VALUES ($1) ON CONFLICT (owner_id, name) DO NOTHING
               RETURNING id)
           SELECT id FROM created
           UNION ALL SELECT id FROM collections WHERE name = $1 AND owner_id IS NULL
           LIMIT 1""",
        name,
    )


async def versions(conn: asyncpg.Connection, name: str | None) -> list[asyncpg.Record]:
    """(id, version) of the collections with this name (or "id:N"), or of all of them when
    name is None (names are unique per owner: the caller narrows by id)."""
    ref = int(name[3:]) if name is not None and REFERENCE.fullmatch(name) else None
    return await conn.fetch(
        """SELECT id, version FROM collections
           WHERE $1::text IS NULL OR name = $1 OR id = $2 ORDER BY id""",
        name,
        ref,
    )


async def delete_by_name(conn: asyncpg.Connection, name: str) -> bool:
    """Delete the named collection without an owner, with its documents and chunks."""
    return bool(
        await conn.fetchval(
            "DELETE FROM collections WHERE name = $1 AND owner_id IS NULL RETURNING true", name
        )
    )


async def names(conn: asyncpg.Connection) -> list[str]:
    """Every collection's name (once, however many share it), oldest first."""
    rows = await conn.fetch("SELECT name FROM collections GROUP BY name ORDER BY min(id)")
    return [row["name"] for row in rows]


async def names_among(conn: asyncpg.Connection, ids: list[int]) -> list[str]:
    """The names of the collections with those ids (once each), oldest first."""
    rows = await conn.fetch(
        "SELECT name FROM collections WHERE id = ANY($1) GROUP BY name ORDER BY min(id)", ids
    )
    return [row["name"] for row in rows]


async def delete_by_id(conn: asyncpg.Connection, collection_id: int) -> None:
    """Delete a collection; its documents, files, chunks and postings go with it (cascades and
    the chunks' delete trigger), its members too."""
    await conn.execute("DELETE FROM collections WHERE id = $1", collection_id)
