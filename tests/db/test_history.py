"""The history sent with a follow-up: interrupted answers are left out."""

import asyncio
import uuid

import asyncpg

from app.db import conversations as conversation_sql
from app.db.pool import init_connection


async def _history(url: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    try:
        user_id = await conn.fetchval("SELECT id FROM users LIMIT 1")
        conversation = await conversation_sql.start(
            conn, "keeper", "Who keeps the lighthouse?", user_id=user_id
        )
        await conversation_sql.add_message(conn, conversation, "assistant", "Ada keeps it.")
        await conversation_sql.add_message(conn, conversation, "user", "What does she eat?")
        await conversation_sql.keep_interrupted(
            conn, conversation, uuid.uuid4(), "The miller of Tarn eats", []
        )
        rows = await conversation_sql.recent_messages(conn, conversation, 6)
        return [(r["role"], r["content"]) for r in rows]
    finally:
        await conn.close()


def test_interrupted_answers_are_left_out_of_the_history(settings):
    assert asyncio.run(_history(settings.database_url)) == [
        ("user", "Who keeps the lighthouse?"),
        ("assistant", "Ada keeps it."),
        ("user", "What does she eat?"),
    ]
