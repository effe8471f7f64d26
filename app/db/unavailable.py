"""Which exceptions mean "the database cannot be reached right now" (a 503, worth a retry).

A stopped server, a full server, a closed pool or an acquire that timed out while connecting
all used to surface as a generic 500. An acquire that timed out with every connection busy is
Overloaded instead (app/db/pool.py): the server answers, this worker has too much to do.
OSError and TimeoutError are common elsewhere (the LLM, Redis), so they count only when raised
from inside asyncpg.
"""

from __future__ import annotations

import asyncpg
from asyncpg import exceptions as pg

from app.errors import Overloaded

RETRY_AFTER_SECONDS = 5
MESSAGE = "the database is unavailable right now; try again in a few seconds"

# Always about the connection, wherever they surface.
_ALWAYS: tuple[type[BaseException], ...] = (
    pg.CannotConnectNowError,
    pg.TooManyConnectionsError,
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    pg.PostgresConnectionError,  # ConnectionDoesNotExistError, ConnectionFailureError, ...
    asyncpg.InterfaceError,  # "pool is closed", "connection is closed"
    # "another operation is in progress": a pooled connection the server left mid-operation
    # when it shut down (the pool closes it: app/db/pool.py); the request met the outage.
    asyncpg.InternalClientError,
)
# About the database only when they come out of asyncpg's own code.
_FROM_ASYNCPG: tuple[type[BaseException], ...] = (OSError, TimeoutError)
# What an exception handler registers for (OSError covers ConnectionRefusedError).
HANDLED = _ALWAYS + _FROM_ASYNCPG


def _raised_in_asyncpg(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("asyncpg"):
            return True
        tb = tb.tb_next
    return False


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or the one it was raised from) says the database is out of reach."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
            continue
        if isinstance(exc, Overloaded):  # a pool wait for a turn: the server is up
            return False
        if isinstance(exc, _ALWAYS):
            return True
        if isinstance(exc, _FROM_ASYNCPG) and _raised_in_asyncpg(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
