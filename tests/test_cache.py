"""The cache backends, chosen by URL: the same tests for the in-process twin and Redis."""

import asyncio
import time
import uuid

import pytest

from app.backends import cache_url, open_cache
from app.backends.cache import MemoryCache
from app.config import load_settings
from tests.helpers import eventually


@pytest.fixture(params=["memory", "redis"])
async def cache(request):
    url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    backend = open_cache(url)
    yield backend
    await backend.aclose()


async def _gone(cache, key: str, within: float = 5.0) -> bool:
    """Whether the key expires within `within` seconds (polled, not slept on)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await cache.get(key) is None:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_value_comes_back_until_it_expires(cache):
    key = uuid.uuid4().hex
    assert await cache.get(key) is None
    await cache.set(key, b"value", ttl=60)
    assert await cache.get(key) == b"value"
    await cache.set(key, b"newer", ttl=0.1)
    assert await cache.get(key) == b"newer"
    assert await _gone(cache, key)


async def test_keys_are_kept_apart(cache):
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    await cache.set(a, b"\x00binary\xff", ttl=60)
    await cache.set(b, b"other", ttl=60)
    assert (await cache.get(a), await cache.get(b)) == (b"\x00binary\xff", b"other")


async def test_memory_cache_evicts_the_least_recently_used():
    cache = MemoryCache(max_items=2)
    await cache.set("a", b"1", ttl=60)
    await cache.set("b", b"2", ttl=60)
    assert await cache.get("a") == b"1"  # "a" is now the most recent
    await cache.set("c", b"3", ttl=60)
    assert await cache.get("b") is None and await cache.get("a") == b"1"


async def test_a_redis_that_fails_is_a_miss_and_is_left_alone_for_a_while():
    # A server that hangs up on every connection: each try to use it is counted.
    tries = closed = 0

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal tries, closed
        tries += 1
        writer.close()
        await writer.wait_closed()
        closed += 1

    async def all_closed() -> bool:
        return closed == tries

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cache = open_cache(f"redis://127.0.0.1:{port}/0")
    try:
        assert await cache.get("k") is None  # a miss, not an error
        assert tries >= 1
        before = tries
        await cache.set("k", b"v", ttl=5)
        assert await cache.get("k") is None
        assert tries == before  # no request waited on the broken Redis again
    finally:
        await cache.aclose()
        server.close()
        await server.wait_closed()
        await eventually(all_closed, timeout=10)  # no socket left for a later test's GC


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "memory://"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "redis://127.0.0.1:6379/0"),
        ({"REDIS_URL": "redis://r:6379/0", "CACHE_URL": "memory://"}, "memory://"),
    ],
)
def test_the_cache_is_chosen_by_url_with_redis_url_as_the_default(env, url):
    assert cache_url(load_settings(env)) == url


def test_a_cache_url_of_an_unknown_kind_names_the_variable():
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="CACHE_URL"):
        load_settings({"CACHE_URL": "memcached://127.0.0.1"})
