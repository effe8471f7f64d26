"""A small byte cache: in process (memory://) or Redis (shared by all workers).

Only rebuildable values go here. A Redis that is down counts as a miss: requests still succeed.
app/backends/__init__.py picks one by URL.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.infra.metrics import cache_lookup

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # per process; memory://?max_mb=N sets it


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def aclose(self) -> None: ...


class MemoryCache:
    """Least-recently-used entries with an expiry, bounded in bytes (keys and values).

    Bounded in bytes, not entries: a search result at k=50 is about 100 KB, so 10,000 entries
    could hold a gigabyte. A value larger than a tenth of the bound is not kept at all, so one
    entry cannot empty the cache.
    """

    ENTRY_OVERHEAD = 120  # the dict slot, the tuple and the float, roughly

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0  # bytes held, by the same count as max_bytes
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def _cost(self, key: str, value: bytes) -> int:
        return len(key) + len(value) + self.ENTRY_OVERHEAD

    def _drop(self, key: str) -> None:
        _, value = self._items.pop(key)
        self.size -= self._cost(key, value)

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if key in self._items:
            self._drop(key)
        cost = self._cost(key, value)
        if cost > self.max_bytes // 10:
            return
        self._items[key] = (time.monotonic() + ttl, value)
        self.size += cost
        while self.size > self.max_bytes:
            self._drop(next(iter(self._items)))

    async def aclose(self) -> None:
        self._items.clear()
        self.size = 0


class RedisCache:
    # After a failure, leave Redis alone this long: a Redis that hangs must not add its
    # timeout to every request.
    BACKOFF_SECONDS = 5.0

    def __init__(self, client: redis.Redis, prefix: str = "rag:") -> None:
        self.client = client
        self.prefix = prefix
        self._warned_at = -60.0
        self._down_until = 0.0

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        self._down_until = now + self.BACKOFF_SECONDS
        if now - self._warned_at > 60:  # one warning a minute, not one per request
            self._warned_at = now
            log.warning("Redis unavailable, caching skipped: %s", exc)

    async def get(self, key: str) -> bytes | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            return await self.client.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            self._unavailable(exc)
            return None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if time.monotonic() < self._down_until:
            return
        try:
            await self.client.set(self.prefix + key, value, px=int(ttl * 1000))
        except (RedisError, OSError) as exc:
            self._unavailable(exc)

    async def aclose(self) -> None:
        await self.client.aclose()


class CountedCache:
    """A cache whose lookups are counted as hits and misses (/metrics)."""

    def __init__(self, inner: Cache) -> None:
        self.inner = inner

    async def get(self, key: str) -> bytes | None:
        value = await self.inner.get(key)
        cache_lookup(key, value is not None)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self.inner.set(key, value, ttl)

    async def aclose(self) -> None:
        await self.inner.aclose()
