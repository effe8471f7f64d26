"""A warning that may happen thousands of times a second (a burst refused, a pool exhausted)
logged at most once per interval, with how many were left unsaid."""

from __future__ import annotations

import logging
import time


class ThrottledWarning:
    """`warn(message)` logs at once, then at most every `seconds`, counting the rest."""

    def __init__(self, log: logging.Logger, seconds: float = 10.0) -> None:
        self.log = log
        self.seconds = seconds
        self._next = 0.0
        self._unsaid = 0

    def warn(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self._next:
            self._unsaid += 1
            return
        if self._unsaid:
            message += " (and %d more like it since the last such line)"
            args = (*args, self._unsaid)
        self.log.warning(message, *args)
        self._next = now + self.seconds
        self._unsaid = 0
