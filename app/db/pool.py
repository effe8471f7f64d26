"""The asyncpg pool, with codecs for jsonb and pgvector registered on every connection."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import asyncpg
from pgvector.asyncpg import register_vector

from app.db import unavailable
from app.db.search import DEFAULT_TUNING, apply_session_settings
from app.errors import DatabaseUnavailable, Overloaded, SchemaBehind
from app.infra import metrics
from app.infra.throttled_log import ThrottledWarning

log = logging.getLogger(__name__)
_exhausted = ThrottledWarning(log)
PROBE_SECONDS = 2.0  # a probe's time limit, and how long its answer is believed


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register the jsonb and pgvector codecs (for connections opened outside the pool)."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await register_vector(conn)
    await apply_session_settings(conn, DEFAULT_TUNING)


async def keep_session(conn: asyncpg.Connection) -> None:
    """What a released connection needs beyond asyncpg's own cleanup (an open transaction is
    rolled back, listeners dropped): nothing. The default RESET ALL undid init_connection's
    settings after a connection's first use, and cost a round trip per release."""


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection; DatabaseUnavailable, saying what to check, when there is no server."""
    try:
        return await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _unavailable(exc) from None


def _unavailable(exc: Exception) -> DatabaseUnavailable:
    # The message names no part of the URL: it may hold a password.
    return DatabaseUnavailable(
        f"could not connect to the database at DATABASE_URL ({type(exc).__name__}: {exc});"
        " check that the server runs and the URL is right, or unset DATABASE_URL"
    )


class _Pool(asyncpg.Pool):
    """asyncpg's pool with a default acquire timeout: with every connection busy (or the
    server gone) a request waits this long, then answers 503, instead of queueing forever.
    A connection that failed the way a broken one does is closed, not given to the next
    request. A wait that times out with every connection busy is Overloaded, not an outage."""

    acquire_timeout: float | None = None
    dsn: str = ""  # for the probe, which opens a connection of its own
    _probe: tuple[float, asyncio.Future[bool]] | None = None  # (when, reachable?)

    def acquire(self, *, timeout: float | None = None) -> Any:
        timeout = self.acquire_timeout if timeout is None else timeout
        return _Acquire(self, super().acquire(timeout=timeout), timeout)

    async def reachable(self) -> bool:
        """Whether a new connection opens and answers within PROBE_SECONDS: one probe at a
        time, its answer kept PROBE_SECONDS for every request that asks meanwhile."""
        loop = asyncio.get_running_loop()
        if self._probe is None or loop.time() - self._probe[0] > PROBE_SECONDS:
            self._probe = (loop.time(), loop.create_task(_probe(self.dsn)))
        return await asyncio.shield(self._probe[1])


class _Acquire:
    """`async with pool.acquire()` (or `await`), closing the connection on a broken error.

    Our release skips the reset query (keep_session), so nothing else would notice a
    connection whose protocol a server shutdown left mid-operation: every later request on
    it failed with InternalClientError ("another operation is in progress"), a 500.
    """

    def __init__(self, pool: asyncpg.Pool, inner: Any, timeout: float | None) -> None:
        self._pool = pool
        self._inner = inner
        self._timeout = timeout
        self._conn: asyncpg.Connection | None = None

    def __await__(self) -> Any:
        return self._inner.__await__()

    async def __aenter__(self) -> asyncpg.Connection:
        try:
            self._conn = await self._inner.__aenter__()
        except TimeoutError:
            # Every connection busy and the server answers a probe: a wait for a turn.
            # Otherwise a connection could not be opened, or the server went silent (a
            # network partition leaves queries hanging): it is out of reach (unavailable).
            if _all_busy(self._pool) and await self._pool.reachable():
                raise _overloaded(self._pool, self._timeout) from None
            raise
        return self._conn

    async def __aexit__(self, *exc_info: Any) -> None:
        exc = exc_info[1]
        if self._conn is not None and exc is not None and _broken(exc):
            self._conn.terminate()  # the pool opens a new one when it is next needed
        await self._inner.__aexit__(*exc_info)


async def _probe(dsn: str) -> bool:
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            conn = await asyncpg.connect(dsn)
            try:
                await conn.fetchval("SELECT 1")
            finally:
                await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("database unreachable: a probe connection failed: %r", exc)
        return False
    return True


def _all_busy(pool: asyncpg.Pool) -> bool:
    """Every connection the pool may open is open and handed out: the wait was for a turn."""
    return pool.get_size() >= pool.get_max_size() and pool.get_idle_size() == 0


def _overloaded(pool: asyncpg.Pool, timeout: float | None) -> Overloaded:
    metrics.DB_POOL_TIMEOUTS.inc()
    _exhausted.warn(
        "overloaded: all %d database connections stayed busy for %s s; the database is"
        " reachable, this worker has more work than connections (see DB_POOL_SIZE)",
        pool.get_max_size(),
        timeout,
    )
    return Overloaded(unavailable.RETRY_AFTER_SECONDS)


def _broken(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.InternalClientError) or unavailable.is_unavailable(exc)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    acquire_timeout: float | None = 10.0,
    statement_timeout: float | None = 30.0,
) -> asyncpg.Pool:
    """Open a pool; the schema must already be migrated (the vector type must exist).

    statement_timeout (seconds, None for none) is set on every connection, so one heavy
    query cannot hold a connection forever."""
    server_settings = {}
    if statement_timeout:
        server_settings["statement_timeout"] = str(int(statement_timeout * 1000))
    pool = _Pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        init=init_connection,
        reset=keep_session,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        server_settings=server_settings,
    )
    pool.acquire_timeout = acquire_timeout
    pool.dsn = dsn
    try:
        return await pool
    except ValueError as exc:  # pgvector's codec: the vector type does not exist
        raise SchemaBehind(
            "the database has no 'vector' type: run `python -m app migrate` first"
        ) from exc
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _unavailable(exc) from None
