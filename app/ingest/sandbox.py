"""Parse documents in child processes with CPU-time and memory limits.

A hostile file (a PDF that makes pypdf loop, a DOCX that inflates into gigabytes of XML)
must fail its own document with a message, not stall or kill the worker. Parsing in a
thread could not be cancelled and shared the worker's memory; here each parse runs in a
long-lived child (a fresh interpreter, `python -m app.ingest.sandbox`, so it never inherits
the worker's threads, connections or memory, nor its environment: DATABASE_URL and API keys
stay in the worker). That child forks one confined process per file (app/ingest/confine.py:
hard limits, no network, no files but its input), with a wall-clock bound on top. A parse that
goes over fails its file; a stuck child is killed and replaced; the others go on.

Plain text and Markdown are decoded in the worker itself: that is one bytes.decode and a
linear scan for the title, no parser library, and a process round trip for each of
thousands of small text documents would cost more than their parse.

`parse(data, media_type, source)` has the signature of app.ingest.formats.parse.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from app.ingest.formats import Parsed
from app.ingest.formats import parse as parse_in_process
from app.ingest.formats.base import IngestError

log = logging.getLogger(__name__)

# Called with (stage, pages done, pages in all) as a child parses, from the parsing thread.
Progress = Callable[[str, int, int], None]
PARSING, OCR = "parsing", "ocr"  # progress stages (document events: keep the names stable)
IN_PROCESS = frozenset({"text/plain", "text/markdown"})
# Parses a child runs before it is replaced: bounds what a leak or a fragmented heap costs.
TASKS_PER_CHILD = 200


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 60.0  # PARSE_TIMEOUT_SECONDS: wall clock and CPU time per file
    memory_mb: int = 1024  # PARSE_MEMORY_MB: address space of a parsing process
    processes: int = 2  # children parsing at once
    ocr_languages: tuple[str, ...] = ("eng",)  # OCR_LANGUAGES
    # OCR_PAGE_SECONDS: each page recognised grants this much more wall time, so a scan of
    # many pages is bounded page by page rather than cut off at timeout_seconds.
    ocr_page_seconds: float = 30.0


class ParseCrashed(Exception):
    """The parser raised something unexpected (a bug, perhaps transient): worth a retry."""


class Sandbox:
    """A small pool of parsing children; safe to call from several threads at once."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._idle: list[_Child] = []
        self._busy = 0
        self._ready = threading.Condition()
        self.pid = os.getpid()  # a forked copy of the worker must not share these children

    def parse(
        self, data: bytes, media_type: str, source: str, progress: Progress | None = None
    ) -> Parsed:
        """Parse in a child; IngestError when the file is refused, too slow or too big.

        `progress(stage, done, total)` is called as pages are parsed ("parsing") and
        recognised by OCR ("ocr").
        """
        child = self._take()
        try:
            outcome = child.run(data, media_type, source, self.limits, progress)
        except BaseException:
            child.kill()  # a half-done task leaves the pipe in an unknown state
            child = None
            raise
        finally:
            self._give_back(child)
        kind, value = outcome
        if kind == "parsed":
            # JSON keys are strings: OCR'd pages are numbered.
            value["ocr_pages"] = {int(page): c for page, c in value["ocr_pages"].items()}
            return Parsed(**value)
        if kind == "refused":
            raise IngestError(value)
        if kind == "died":
            raise IngestError(_death(value[0], value[1], source, self.limits))
        raise ParseCrashed(value)

    def probe(self) -> dict[str, Any]:
        """What a parse process can see and do (its environment, limits, network, files)."""
        child = self._take()
        try:
            kind, value = child.run(b"", "probe", "probe", self.limits)
        finally:
            self._give_back(child)
        assert kind == "probe", value
        return value

    def close(self) -> None:
        with self._ready:
            idle, self._idle = self._idle, []
        for child in idle:
            child.kill()

    def _take(self) -> _Child:
        with self._ready:
            while not self._idle and self._busy >= self.limits.processes:
                self._ready.wait()
            self._busy += 1
            if self._idle:
                return self._idle.pop()
        try:
            return _Child()
        except BaseException:
            self._give_back(None)
            raise

    def _give_back(self, child: _Child | None) -> None:
        if child is not None and (not child.alive or child.tasks >= TASKS_PER_CHILD):
            child.kill()
            child = None
        with self._ready:
            self._busy -= 1
            if child is not None:
                self._idle.append(child)
            self._ready.notify()


class _Child:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.connection = Connection(ours.detach())
        root = str(Path(__file__).resolve().parents[2])
        paths = os.pathsep.join(filter(None, [root, *sys.path]))
        try:
            # -I and an empty environment: nothing of the worker's (DATABASE_URL, LLM_API_KEY)
            # reaches code that reads hostile files; the import path comes as an argument.
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, str(theirs.fileno()), paths],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env={},
                start_new_session=True,  # a Ctrl-C meant for the worker is not the child's
            )
        finally:
            theirs.close()
        self.tasks = 0
        self.alive = True

    def run(
        self,
        data: bytes,
        media_type: str,
        source: str,
        limits: Limits,
        progress: Progress | None = None,
    ) -> tuple[str, Any]:
        self.tasks += 1
        try:
            self.connection.send((data, media_type, source, limits))
        except OSError:  # it died while idle (the OOM killer, say): the pipe is broken
            return "refused", self._died(source, limits)
        # The CPU limit is the bound; the clock only catches a child stuck without using CPU,
        # and is twice as lenient because a busy machine stretches wall time.
        deadline = time.monotonic() + 2 * limits.timeout_seconds + 1
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                return "refused", _too_slow(source, limits)
            try:
                if self.connection.poll(left):
                    message = self.connection.recv()
                    if message[0] != "progress":
                        return message
                    stage, done, total = message[1:]
                    if stage == OCR:  # each page recognised may take its own time
                        deadline += 2 * limits.ocr_page_seconds
                    if progress is not None:
                        progress(stage, done, total)
            except (EOFError, OSError):
                return "refused", self._died(source, limits)

    def _died(self, source: str, limits: Limits) -> str:
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        return _death(code, 0.0, source, limits)  # the zygote itself: its CPU time is not known

    def kill(self) -> None:
        self.alive = False
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # its parse process goes too
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()
        self.connection.close()


def _too_slow(source: str, limits: Limits) -> str:
    return (
        f"{source!r} took more than {limits.timeout_seconds:g} s to parse "
        "(PARSE_TIMEOUT_SECONDS); it may be damaged or built to stall parsers"
    )


def _death(code: int | None, cpu_seconds: float, source: str, limits: Limits) -> str:
    """Why a parse process died, for its document's error."""
    if code == -signal.SIGXCPU or (code is not None and cpu_seconds >= limits.timeout_seconds):
        return _too_slow(source, limits)
    if code == -signal.SIGKILL:
        reason = f"was killed (out of memory? the limit is {limits.memory_mb} MB)"
    elif code is not None and code < 0:
        reason = f"crashed ({signal.Signals(-code).name})"
    else:
        reason = f"exited (status {code})"
    return (
        f"the parser {reason} while reading {source!r}; "
        "the file may be damaged or built to crash parsers"
    )


# The child's first lines: the import path from its arguments (it has no environment).
_BOOT = (
    "import sys; sys.path[:0] = sys.argv[2].split(__import__('os').pathsep); "
    "from multiprocessing.connection import Connection; "
    "from app.ingest.confine import serve; serve(Connection(int(sys.argv[1])))"
)


_sandbox: Sandbox | None = None
_limits = Limits()
_lock = threading.Lock()


def configure(limits: Limits) -> None:
    """Set the limits of this process's sandbox (from the settings, at startup)."""
    global _sandbox, _limits
    with _lock:
        _limits = limits
        old, _sandbox = _sandbox, None
    if old is not None:
        old.close()


def current_limits() -> Limits:
    return _limits


def parse(data: bytes, media_type: str, source: str, progress: Progress | None = None) -> Parsed:
    """Parse a stored file in a limited child process; IngestError when it cannot be read."""
    global _sandbox
    if media_type in IN_PROCESS:
        return parse_in_process(data, media_type, source)
    with _lock:
        if _sandbox is None or _sandbox.pid != os.getpid():
            _sandbox = Sandbox(_limits)
        sandbox = _sandbox
    return sandbox.parse(data, media_type, source, progress)
