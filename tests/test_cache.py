"""The cache backends: the in-process twin and Redis, including a Redis that went away."""

import asyncio
import time

import redis.asyncio as redis

from app.cache import MemoryCache, RedisCache


def test_memory_cache_expires_and_evicts_least_recently_used():
    async def run():
        cache = MemoryCache(max_items=2)
        await cache.set("a", b"1", ttl=60)
        await cache.set("b", b"2", ttl=60)
        assert await cache.get("a") == b"1"  # "a" is now the most recent
        await cache.set("c", b"3", ttl=60)
        assert await cache.get("b") is None and await cache.get("a") == b"1"
        await cache.set("d", b"4", ttl=0.01)
        await asyncio.sleep(0.02)
        assert await cache.get("d") is None

    asyncio.run(run())


def test_redis_cache_round_trip_on_the_machine_redis():
    async def run():
        client = redis.from_url("redis://127.0.0.1:6379/0")
        cache = RedisCache(client, prefix=f"test:{time.time_ns()}:")
        await cache.set("k", b"value", ttl=5)
        assert await cache.get("k") == b"value"
        assert 0 < await client.pttl(cache.prefix + "k") <= 5000
        await client.delete(cache.prefix + "k")
        await client.aclose()

    asyncio.run(run())


def test_redis_that_is_down_is_a_miss_and_is_left_alone_for_a_while():
    async def run():
        # Nothing listens on port 1: every call fails at once.
        client = redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        cache = RedisCache(client)
        assert await cache.get("k") is None
        await cache.set("k", b"v", ttl=5)
        assert cache._down_until > time.monotonic()
        await client.aclose()

    asyncio.run(run())
