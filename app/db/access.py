"""Who may read and write which collection: owners, members, shared collections."""

from __future__ import annotations

from uuid import UUID

import asyncpg

# A collection is readable by an admin, by everyone when shared, and by its owner and members.
_READABLE = """($2 OR c.visibility = 'shared' OR c.owner_id = $1
                OR EXISTS (SELECT 1 FROM collection_members m
                           WHERE m.collection_id = c.id AND m.user_id = $1))"""
# Written by an admin, or by an editor who owns it or is a member.
_WRITABLE = """($2 OR ($3 AND (c.owner_id = $1
                OR EXISTS (SELECT 1 FROM collection_members m
                           WHERE m.collection_id = c.id AND m.user_id = $1))))"""


async def readable_ids(conn: asyncpg.Connection, user_id: UUID, admin: bool) -> list[int]:
    rows = await conn.fetch(f"SELECT c.id FROM collections c WHERE {_READABLE}", user_id, admin)
    return [r["id"] for r in rows]


async def named(
    conn: asyncpg.Connection, name: str, user_id: UUID, admin: bool, editor: bool
) -> list[asyncpg.Record]:
    """(id, mine, writable) of the collections the caller may read that have this name (or,
    for "id:N", that id), the caller's own first: names are unique per owner only."""
    ref = int(name[3:]) if name.startswith("id:") else None
    return await conn.fetch(
        f"""SELECT c.id, c.owner_id IS NOT DISTINCT FROM $1 AS mine, {_WRITABLE} AS writable
            FROM collections c
            WHERE (c.name = $4 OR c.id = $5) AND {_READABLE}
            ORDER BY (c.owner_id IS NOT DISTINCT FROM $1) DESC, c.id""",
        user_id,
        admin,
        editor,
        name,
        ref,
    )


async def collection_access(
    conn: asyncpg.Connection, collection_id: int, user_id: UUID, admin: bool, editor: bool
) -> asyncpg.Record | None:
    """(readable, writable) of a collection; None when there is none."""
    return await conn.fetchrow(
        f"""SELECT {_READABLE} AS readable, {_WRITABLE} AS writable
            FROM collections c WHERE c.id = $4""",
        user_id,
        admin,
        editor,
        collection_id,
    )


async def document_access(
    conn: asyncpg.Connection, document_id: UUID, user_id: UUID, admin: bool, editor: bool
) -> asyncpg.Record | None:
    """(readable, writable) for a document's collection; None when there is no document."""
    return await conn.fetchrow(
        f"""SELECT {_READABLE} AS readable, {_WRITABLE} AS writable
            FROM documents d JOIN collections c ON c.id = d.collection_id WHERE d.id = $4""",
        user_id,
        admin,
        editor,
        document_id,
    )


async def create_collection(
    conn: asyncpg.Connection, name: str, owner_id: UUID | None, visibility: str = "private"
) -> int:
    """The id of a new collection owned by `owner_id`, or of that owner's one of that name."""
    return await conn.fetchval(
        """WITH created AS (
               INSERT INTO collections (name, owner_id, visibility) VALUES ($1, $2, $3)
               ON CONFLICT (owner_id, name) DO NOTHING RETURNING id)
           SELECT id FROM created
           UNION ALL SELECT id FROM collections WHERE name = $1 AND owner_id IS NOT DISTINCT FROM $2
           LIMIT 1""",
        name,
        owner_id,
        visibility,
    )


async def list_collections(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every collection with its owner's email and its members' emails (for the admin page)."""
    return await conn.fetch(
        """SELECT c.id, c.name, c.visibility, u.email AS owner,
                  (SELECT count(*) FROM documents d WHERE d.collection_id = c.id)::int
                      AS document_count,
                  coalesce((SELECT array_agg(mu.email ORDER BY mu.email)
                            FROM collection_members m JOIN users mu ON mu.id = m.user_id
                            WHERE m.collection_id = c.id), '{}') AS members
           FROM collections c LEFT JOIN users u ON u.id = c.owner_id ORDER BY c.name"""
    )


async def set_visibility(conn: asyncpg.Connection, collection_id: int, visibility: str) -> bool:
    return (
        await conn.fetchval(
            "UPDATE collections SET visibility = $2 WHERE id = $1 RETURNING true",
            collection_id,
            visibility,
        )
        or False
    )


async def add_member(conn: asyncpg.Connection, collection_id: int, email: str) -> bool:
    """Add a user (by email) to a collection; False when either does not exist."""
    return (
        await conn.fetchval(
            """INSERT INTO collection_members (collection_id, user_id)
               SELECT c.id, u.id FROM collections c, users u
               WHERE c.id = $1 AND lower(u.email) = lower($2)
               ON CONFLICT DO NOTHING RETURNING true""",
            collection_id,
            email,
        )
        or await conn.fetchval(
            """SELECT true FROM collection_members m JOIN collections c ON c.id = m.collection_id
               JOIN users u ON u.id = m.user_id WHERE c.id = $1 AND lower(u.email) = lower($2)""",
            collection_id,
            email,
        )
        or False
    )


async def remove_member(conn: asyncpg.Connection, collection_id: int, email: str) -> bool:
    return (
        await conn.fetchval(
            """DELETE FROM collection_members m USING collections c, users u
               WHERE m.collection_id = c.id AND m.user_id = u.id
                 AND c.id = $1 AND lower(u.email) = lower($2) RETURNING true""",
            collection_id,
            email,
        )
        or False
    )


async def deletion_facts(
    conn: asyncpg.Connection, collection_id: int, user_id: UUID, admin: bool
) -> asyncpg.Record | None:
    """(id, name, readable, deletable, document_count) of the collection, its row locked until
    the transaction ends so no document is added while it is being deleted; None when there is
    none. Only its owner or an admin may delete a collection (members may not)."""
    return await conn.fetchrow(
        f"""SELECT c.id, c.name, {_READABLE} AS readable, ($2 OR c.owner_id = $1) AS deletable,
                   (SELECT count(*) FROM documents d WHERE d.collection_id = c.id)::int
                       AS document_count
            FROM collections c WHERE c.id = $3 FOR UPDATE OF c""",
        user_id,
        admin,
        collection_id,
    )


async def management_facts(
    conn: asyncpg.Connection, collection_id: int, user_id: UUID, admin: bool
) -> asyncpg.Record | None:
    """(id, readable, manageable) of the collection; None when there is none. Only its
    owner or an admin may change its settings (its assistant), as for deleting it."""
    return await conn.fetchrow(
        f"""SELECT c.id, {_READABLE} AS readable, ($2 OR c.owner_id = $1) AS manageable
            FROM collections c WHERE c.id = $3""",
        user_id,
        admin,
        collection_id,
    )
