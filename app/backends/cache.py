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

log = logging.getLogger(__name__)


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def aclose(self) -> None: ...


class MemoryCache:
    """Least-recently-used entries with an expiry, bounded in count."""

    def __init__(self, max_items: int = 10_000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._items[key] = (time.monotonic() + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    async def aclose(self) -> None:
        self._items.clear()


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
