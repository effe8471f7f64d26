"""The cache backends, chosen by URL: the same tests for the in-process twin and Redis."""

import asyncio
import time
import tracemalloc
import uuid

import pytest

from app.backends import cache_url, open_cache
from app.backends.cache import DEFAULT_MAX_BYTES, MemoryCache
from app.config import load_settings
from app.errors import ConfigError
from tests.tcp import port_of, tcp_server


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
    value = b"v" * 1_000
    cache = MemoryCache(max_bytes=10 * (2 + len(value) + MemoryCache.ENTRY_OVERHEAD))
    for n in range(10):  # full
        await cache.set(f"k{n}", value, ttl=60)
    assert await cache.get("k0") == value  # "k0" is now the most recent
    await cache.set("kx", value, ttl=60)
    assert await cache.get("k1") is None and await cache.get("k0") == value


async def test_memory_cache_is_bounded_in_bytes_not_entries():
    # 2,000 search results of 100 KB (k=50) were 200 MB under the old 10,000-entry bound.
    cache = MemoryCache(max_bytes=16 * 1024 * 1024)
    tracemalloc.start()
    try:
        for n in range(2_000):
            await cache.set(f"search:{n}", bytes([n % 256]) * 100_000, ttl=60)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 20 * 1024 * 1024, held
    assert await cache.get("search:1999") is not None  # the newest are kept
    assert await cache.get("search:0") is None


async def test_one_huge_value_does_not_empty_the_memory_cache():
    cache = MemoryCache(max_bytes=1_000_000)
    await cache.set("small", b"kept", ttl=60)
    await cache.set("huge", b"x" * 200_000, ttl=60)  # over a tenth of the bound: not kept
    assert await cache.get("huge") is None and await cache.get("small") == b"kept"


async def test_replacing_a_memory_cache_value_counts_its_bytes_once():
    cache = MemoryCache(max_bytes=1_000_000)
    for _ in range(100):
        await cache.set("same", b"x" * 50_000, ttl=60)
    assert cache.size == len("same") + 50_000 + MemoryCache.ENTRY_OVERHEAD
    assert await cache.get("same") is not None


def test_the_memory_cache_size_is_set_by_its_url():
    assert open_cache("memory://?max_mb=2").inner.max_bytes == 2 * 1024 * 1024
    assert open_cache("memory://").inner.max_bytes == DEFAULT_MAX_BYTES
    for bad in ("memory://?max_mb=0", "memory://?max_mb=lots"):
        with pytest.raises(ConfigError, match="max_mb"):
            open_cache(bad)


async def test_a_redis_that_fails_is_a_miss_and_is_left_alone_for_a_while():
    # A server that hangs up on every connection: each try to use it is counted.
    tries = 0

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal tries
        tries += 1
        writer.close()

    async with tcp_server(hang_up) as server:
        cache = open_cache(f"redis://127.0.0.1:{port_of(server)}/0")
        try:
            assert await cache.get("k") is None  # a miss, not an error
            assert tries >= 1
            before = tries
            await cache.set("k", b"v", ttl=5)
            assert await cache.get("k") is None
            assert tries == before  # no request waited on the broken Redis again
        finally:
            await cache.aclose()


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
