"""Costly work run off the event loop, a bounded number at once per process.

Work past the bound waits for a turn up to `wait_seconds`, then is refused with 429: a burst
of expensive requests queues briefly and sheds the rest, instead of taking the process's memory
or its event loop (Argon2 hashes; Markdown rendering of hostile input).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import anyio

from app.errors import AppError

T = TypeVar("T")


class Busy(AppError):
    status = 429
    code = "busy"
    retry_after = 5  # sent as Retry-After


class Bounded:
    """At most `concurrency` calls of `run` at once in this process, each in a thread.
    `peak` and `done` are there to be observed (tests, metrics)."""

    def __init__(self, concurrency: int, wait_seconds: float, busy: str) -> None:
        self.concurrency = concurrency
        self.wait_seconds = wait_seconds
        self.busy = busy  # the 429's message
        self.running = self.peak = self.done = 0
        self._slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    def _semaphore(self) -> asyncio.Semaphore:
        # One per event loop: a semaphore belongs to the loop it first waited on.
        loop = asyncio.get_running_loop()
        if loop not in self._slots:
            self._slots[loop] = asyncio.Semaphore(self.concurrency)
        return self._slots[loop]

    async def run(self, work: Callable[..., T], *args: object) -> T:
        semaphore = self._semaphore()
        if not semaphore.locked():
            await semaphore.acquire()  # a free slot: at once (wait_for(..., 0) would refuse)
        else:
            try:
                await asyncio.wait_for(semaphore.acquire(), self.wait_seconds)
            except TimeoutError:
                raise Busy(self.busy) from None
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            return await anyio.to_thread.run_sync(work, *args)
        finally:
            self.running -= 1
            self.done += 1
            semaphore.release()
