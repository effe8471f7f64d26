"""Fixed-window rate limits: Redis (shared by every worker) or an in-process twin.

`hit` counts one request against a key and answers None when it may go on, else the seconds
until the window ends (for Retry-After). A Redis that fails lets requests through: limits are
a brake, and the site must not go down with its cache.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.auth_settings import Limit
from app.backends import redis_client

log = logging.getLogger(__name__)


class Limiter(Protocol):
    async def hit(self, key: str, limit: Limit) -> int | None: ...

    async def aclose(self) -> None: ...


def _window(limit: Limit, now: float) -> tuple[int, int]:
    """(window number, seconds until it ends, at least 1)."""
    number = int(now // limit.seconds)
    return number, max(1, math.ceil((number + 1) * limit.seconds - now))


class MemoryLimiter:
    """Counters in a dict, dropped when their window has passed."""

    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self._counts: dict[str, int] = {}
        self._window: dict[str, int] = {}

    async def hit(self, key: str, limit: Limit) -> int | None:
        if limit.count <= 0:
            return None
        number, retry = _window(limit, self.clock())
        if self._window.get(key) != number:
            if len(self._window) > 100_000:  # a sweep now and then bounds the memory
                self._sweep()
            self._window[key], self._counts[key] = number, 0
        self._counts[key] += 1
        return retry if self._counts[key] > limit.count else None

    def _sweep(self) -> None:
        self._window.clear()
        self._counts.clear()

    async def aclose(self) -> None:
        pass


class RedisLimiter:
    """INCR on a key per window, which expires with the window."""

    def __init__(self, client: redis.Redis, clock=time.time, prefix: str = "") -> None:
        self.client = client
        self.clock = clock
        self.prefix = prefix  # a Redis URL's ?prefix= (app.backends)

    async def hit(self, key: str, limit: Limit) -> int | None:
        if limit.count <= 0:
            return None
        number, retry = _window(limit, self.clock())
        name = f"{self.prefix}rl:{key}:{limit.seconds}:{number}"
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.incr(name)
                pipe.expire(name, limit.seconds + 1)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rate limit not checked, Redis failed: %s", exc)
            return None
        return retry if count > limit.count else None

    async def aclose(self) -> None:
        await self.client.aclose()


def make_limiter(redis_url: str | None) -> Limiter:
    """Counters in Redis when REDIS_URL is set (shared by every worker), else in process."""
    if redis_url is None:
        return MemoryLimiter()
    client, prefix = redis_client(redis_url)  # lazy: connects on the first limited request
    return RedisLimiter(client, prefix=prefix)
