"""Usage for the admin page, from the tables the site already keeps: questions are user
messages, answers assistant messages (stored when done: their delay after the question is the
answer's latency), failed ingestions are documents marked failed."""

from __future__ import annotations

from typing import Any

import asyncpg

_SINCE = "created_at > now() - make_interval(days => $1)"


async def questions_per_day(conn: asyncpg.Connection, days: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS questions
            FROM messages WHERE role = 'user' AND {_SINCE} GROUP BY 1 ORDER BY 1""",
        days,
    )
    return [{"day": r["day"].isoformat(), "questions": r["questions"]} for r in rows]


async def questions_per_user(conn: asyncpg.Connection, days: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT u.email, count(*)::int AS questions
            FROM messages m JOIN conversations c ON c.id = m.conversation_id
            LEFT JOIN users u ON u.id = c.user_id
            WHERE m.role = 'user' AND m.{_SINCE}
            GROUP BY u.email ORDER BY questions DESC, u.email LIMIT 100""",
        days,
    )
    return [{"user": r["email"], "questions": r["questions"]} for r in rows]


async def answers_per_collection(conn: asyncpg.Connection, days: int) -> list[dict[str, Any]]:
    """Answers that cited each collection (a question is not stored with its scope, so this is
    where its answer came from; citations of deleted documents are not counted)."""
    rows = await conn.fetch(
        f"""SELECT col.name, count(DISTINCT m.id)::int AS answers
            FROM messages m
            CROSS JOIN LATERAL jsonb_array_elements(m.sources) AS s(source)
            JOIN documents d ON d.id::text = s.source->>'document_id'
            JOIN collections col ON col.id = d.collection_id
            WHERE m.role = 'assistant' AND m.{_SINCE}
            GROUP BY col.name ORDER BY answers DESC, col.name""",
        days,
    )
    return [{"collection": r["name"], "answers": r["answers"]} for r in rows]


async def answer_latency(conn: asyncpg.Connection, days: int) -> dict[str, Any]:
    """p50 and p95, in seconds, from a question to its finished answer."""
    row = await conn.fetchrow(
        f"""WITH took AS (
                SELECT extract(epoch FROM m.created_at - (
                    SELECT max(q.created_at) FROM messages q
                    WHERE q.conversation_id = m.conversation_id AND q.role = 'user'
                      AND q.created_at <= m.created_at)) AS seconds
                FROM messages m
                WHERE m.role = 'assistant' AND m.status = 'complete' AND m.{_SINCE})
            SELECT count(seconds)::int AS answers,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) AS p95
            FROM took WHERE seconds IS NOT NULL""",
        days,
    )
    return {
        "answers": row["answers"],
        "p50_seconds": None if row["p50"] is None else round(float(row["p50"]), 3),
        "p95_seconds": None if row["p95"] is None else round(float(row["p95"]), 3),
    }


async def failed_ingestions(conn: asyncpg.Connection, days: int) -> dict[str, Any]:
    count = await conn.fetchval(
        "SELECT count(*)::int FROM documents WHERE status = 'failed'"
        " AND updated_at > now() - make_interval(days => $1)",
        days,
    )
    rows = await conn.fetch(
        """SELECT d.id, d.title, d.error, d.updated_at, col.name AS collection
           FROM documents d JOIN collections col ON col.id = d.collection_id
           WHERE d.status = 'failed' AND d.updated_at > now() - make_interval(days => $1)
           ORDER BY d.updated_at DESC LIMIT 20""",
        days,
    )
    latest = [
        {
            "id": str(r["id"]),
            "title": r["title"],
            "collection": r["collection"],
            "error": r["error"],
            "at": r["updated_at"].isoformat(),
        }
        for r in rows
    ]
    return {"count": count, "latest": latest}


async def summary(conn: asyncpg.Connection, days: int) -> dict[str, Any]:
    return {
        "days": days,
        "questions_per_day": await questions_per_day(conn, days),
        "questions_per_user": await questions_per_user(conn, days),
        "answers_per_collection": await answers_per_collection(conn, days),
        "answer_latency": await answer_latency(conn, days),
        "failed_ingestions": await failed_ingestions(conn, days),
    }
