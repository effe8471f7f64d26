"""app/infra/listen.py on a real Postgres: fan-out, and a lost connection ends every queue."""

import asyncio

from app.db.pool import create_pool
from app.infra.listen import CLOSED, Listener

CHANNEL = "test_listen"


async def test_every_subscriber_hears_each_notification_once_per_process(database_url):
    pool = await create_pool(database_url, max_size=3)
    listener = Listener(pool, CHANNEL)
    try:
        async with listener.subscribe() as first, listener.subscribe() as second:
            await pool.execute("SELECT pg_notify($1, 'hello')", CHANNEL)
            got = [await asyncio.wait_for(q.get(), 10) for q in (first, second)]
        assert got == ["hello", "hello"]
    finally:
        await listener.close()
        await pool.close()


async def test_a_lost_listen_connection_closes_every_queue_and_the_next_one_reopens(
    database_url,
):
    pool = await create_pool(database_url, max_size=3)
    listener = Listener(pool, CHANNEL)
    try:
        async with listener.subscribe() as queue:
            # The listening connection's last statement was its LISTEN.
            killed = await pool.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query = $1",
                f'LISTEN "{CHANNEL}"',
            )
            assert killed == 1
            assert await asyncio.wait_for(queue.get(), 10) is CLOSED
        async with listener.subscribe() as queue:
            await pool.execute("SELECT pg_notify($1, 'again')", CHANNEL)
            assert await asyncio.wait_for(queue.get(), 10) == "again"
    finally:
        await listener.close()
        await pool.close()
