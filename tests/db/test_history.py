"""The history sent with a follow-up: interrupted answers are left out, the first question
stays."""

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


async def _long_history(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    try:
        user_id = await conn.fetchval("SELECT id FROM users LIMIT 1")
        conversation = await conversation_sql.start(
            conn, "Sun Ra", "Sun Ra: early career", user_id=user_id
        )
        for n in range(1, 6):
            await conversation_sql.add_message(conn, conversation, "assistant", f"answer {n}")
            await conversation_sql.add_message(conn, conversation, "user", f"question {n}")
        rows = await conversation_sql.recent_messages(conn, conversation, 4)
        return [r["content"] for r in rows]
    finally:
        await conn.close()


def test_a_long_conversation_keeps_its_first_question_in_the_history(settings):
    # The first question names the topic that "he" in the fifth one points back to.
    assert asyncio.run(_long_history(settings.database_url)) == [
        "Sun Ra: early career",
        "answer 4",
        "question 4",
        "answer 5",
        "question 5",
    ]
