"""Admission: how many asks may be starting at once, and a bounded queue for the rest.

An ask's costly part is its start: storing the question, embedding it, the database's search.
Once its sources are known it only relays tokens, which costs little, so an ask holds its
place until then (`Ticket.release`), not for the whole answer. Asks beyond `capacity` wait in
arrival order; one that finds `queue_size` already waiting, or waits `max_wait` seconds, is
refused with Overloaded (503 with Retry-After, code `overloaded`) before anything is done or
stored. Without it a burst queued on the database pool until acquires timed out and was told
"the database is unavailable" while PostgreSQL was up.

One Admission per process (each gunicorn worker has its own): see app/infra/capacity.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque

from app.errors import Overloaded
from app.infra import metrics
from app.infra.throttled_log import ThrottledWarning

log = logging.getLogger(__name__)

RATE_WINDOW = 64  # recent starts the drain rate (and so Retry-After) is estimated from
MAX_RETRY_AFTER = 60


class Ticket:
    """An admitted ask's place; `release` (idempotent) once its start is over or it failed."""

    __slots__ = ("_admission", "_released")

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._release()


class Admission:
    """At most `capacity` asks starting at once; at most `queue_size` more waiting, each for
    at most `max_wait` seconds, served first come, first served."""

    def __init__(self, capacity: int, queue_size: int, max_wait: float) -> None:
        if capacity < 1 or queue_size < 0 or max_wait < 0:
            raise ValueError("capacity must be at least 1, the queue and the wait at least 0")
        self.capacity = capacity
        self.queue_size = queue_size
        self.max_wait = max_wait
        self.active = 0
        self.peak = 0  # the most asks waiting at once since the process started
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._starts: deque[float] = deque(maxlen=RATE_WINDOW)
        self._warning = ThrottledWarning(log)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def enter(self) -> Ticket:
        """A place to start an ask, now or after waiting its turn; Overloaded if there is
        none to be had soon enough."""
        if self.active < self.capacity and not self._waiters:
            self._take()
            return Ticket(self)
        if (refused := self.refuses_now()) is not None:
            raise refused
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._queue_changed()
        queued = time.perf_counter()
        try:
            async with asyncio.timeout(self.max_wait):
                await waiter
        except BaseException as exc:  # waited too long, or the client went away
            handed = waiter.done() and not waiter.cancelled()  # a place came in that instant
            if handed and isinstance(exc, TimeoutError):
                pass  # take it
            elif handed:
                self._release()  # pass it on
                raise
            else:
                waiter.cancel()
                self._forget(waiter)
                if isinstance(exc, TimeoutError):
                    raise self._refuse("waited_too_long") from None
                raise
        metrics.ASK_WAIT.observe(time.perf_counter() - queued)
        return Ticket(self)  # _release handed its place over: `active` already counts it

    def refuses_now(self) -> Overloaded | None:
        """The refusal an ask arriving now would get at once from `enter`, else None. The
        middleware asks before authenticating or parsing: in a burst, the excess costs
        nothing but this answer, so the refused are told at once and the admitted keep the
        event loop."""
        if self.active < self.capacity and not self._waiters:
            return None
        if len(self._waiters) < self.queue_size:
            return None
        return self._refuse("queue_full")

    def retry_after(self) -> int:
        """Seconds until the queue, as it stands, should have room: its length over the rate
        asks have been starting at lately (max_wait when there is no rate to go by)."""
        starts = self._starts
        if len(starts) >= 2 and starts[-1] > starts[0]:
            rate = (len(starts) - 1) / (starts[-1] - starts[0])
            seconds = (len(self._waiters) + 1) / rate
        else:
            seconds = self.max_wait
        return max(1, min(MAX_RETRY_AFTER, math.ceil(seconds)))

    def _take(self) -> None:
        self.active += 1
        metrics.ASKS_STARTING.inc()

    def _release(self) -> None:
        self._starts.append(time.monotonic())
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place goes to the longest waiting ask
                self._queue_changed()
                return
        self.active -= 1
        metrics.ASKS_STARTING.dec()
        self._queue_changed()

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass
        self._queue_changed()

    def _queue_changed(self) -> None:
        depth = len(self._waiters)
        metrics.ASK_QUEUE.set(depth)
        if depth > self.peak:
            self.peak = depth
            metrics.ASK_QUEUE_PEAK.set(depth)

    def _refuse(self, reason: str) -> Overloaded:
        metrics.ASKS_REFUSED.labels(reason).inc()
        error = Overloaded(self.retry_after())
        self._warning.warn(
            "overloaded: an ask was refused (%s; %d starting, %d waiting, queue %d, wait %.1f s)",
            reason,
            self.active,
            len(self._waiters),
            self.queue_size,
            self.max_wait,
        )
        return error
