"""The optional services' backends, each chosen by a URL in one place (like encode/broadcaster).

    cache       memory://         in-process LRU, one per process (the default), 64 MB unless
                                  memory://?max_mb=N
                redis://host/db   Redis, shared by every worker
    stream log  postgres          the app's own database, table stream_events (the default)
                redis://host/db   Redis lists
                memory://         in-process: one process only (resume on the same worker)

CACHE_URL and STREAM_LOG_URL choose; when unset, REDIS_URL (if set) serves both. A Redis URL
may end in ?prefix=NAME: to share one Redis database between sites (default "rag:").
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import redis.asyncio as redis

from app.backends.cache import DEFAULT_MAX_BYTES, Cache, CountedCache, MemoryCache, RedisCache
from app.backends.stream_log import MemoryStreamLog, PostgresStreamLog, RedisStreamLog, StreamLog
from app.config import REDIS_SCHEMES, Settings, redacted
from app.errors import ConfigError

DEFAULT_PREFIX = "rag:"

__all__ = ["Cache", "StreamLog", "cache_url", "open_cache", "open_stream_log", "stream_log_url"]


def cache_url(settings: Settings) -> str:
    return settings.cache_url or settings.redis_url or "memory://"


def stream_log_url(settings: Settings) -> str:
    return settings.stream_log_url or settings.redis_url or "postgres"


def open_cache(url: str) -> Cache:
    """The cache backend for `url` (memory:// or a Redis URL)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return CountedCache(MemoryCache(_max_bytes(url)))
    if scheme in REDIS_SCHEMES:
        client, prefix = redis_client(url)
        return CountedCache(RedisCache(client, prefix=prefix))
    raise ConfigError(f"CACHE_URL={redacted(url)!r} is invalid: must be memory:// or redis://...")


def _max_bytes(url: str) -> int:
    """memory://?max_mb=N in bytes (a positive number of megabytes), else the default."""
    query = dict(parse_qsl(urlsplit(url).query))
    if "max_mb" not in query:
        return DEFAULT_MAX_BYTES
    try:
        megabytes = float(query["max_mb"])
    except ValueError:
        megabytes = 0
    if not 0 < megabytes < 1_000_000:
        raise ConfigError(
            f"CACHE_URL={url!r} is invalid: max_mb must be a positive number of megabytes"
        )
    return int(megabytes * 1024 * 1024)


def open_stream_log(url: str, pool: asyncpg.Pool) -> StreamLog:
    """The stream log for `url` (postgres, memory:// or a Redis URL); `pool` is the app's."""
    scheme = urlsplit(url).scheme
    if url == "postgres":
        return PostgresStreamLog(pool)
    if scheme == "memory":
        return MemoryStreamLog()
    if scheme in REDIS_SCHEMES:
        client, prefix = redis_client(url)
        return RedisStreamLog(client, prefix=prefix)
    raise ConfigError(
        f"STREAM_LOG_URL={redacted(url)!r} is invalid: must be postgres, memory:// or redis://..."
    )


def redis_client(url: str) -> tuple[redis.Redis, str]:
    """A client for a Redis URL, and the key prefix it names (?prefix=, else "rag:").

    Connects lazily, with short timeouts: a Redis that is down never stops startup, and
    requests go on without it.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = next((value for name, value in query if name == "prefix"), DEFAULT_PREFIX)
    url = urlunsplit(parts._replace(query=urlencode([q for q in query if q[0] != "prefix"])))
    # A blocking pool: with thousands of answer streams recording at once, the default pool
    # raises "Too many connections" instead of waiting a moment for a free one.
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=64, timeout=5, socket_connect_timeout=0.5, socket_timeout=2
    )
    return redis.Redis.from_pool(pool), prefix  # owns the pool: aclose() closes it too
