"""Parse documents in child processes with CPU-time and memory limits.

A hostile file (a PDF that makes pypdf loop, a DOCX that inflates into gigabytes of XML)
must fail its own document with a message, not stall or kill the worker. Parsing in a
thread could not be cancelled and shared the worker's memory; here each parse runs in a
long-lived child (a fresh interpreter, `python -m app.ingest.sandbox`, so it never inherits
the worker's threads, connections or memory) under RLIMIT_AS and RLIMIT_CPU, with a
wall-clock bound on top. A child that goes over is killed and replaced; the others go on.

Plain text and Markdown are decoded in the worker itself: that is one bytes.decode and a
linear scan for the title, no parser library, and a process round trip for each of
thousands of small text documents would cost more than their parse.

`parse(data, media_type, source)` has the signature of app.ingest.formats.parse.
"""

from __future__ import annotations

import importlib
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from app.errors import AppError
from app.ingest.formats import Parsed, base, ocr
from app.ingest.formats import parse as parse_in_process
from app.ingest.formats.base import IngestError

log = logging.getLogger(__name__)

# Called with (stage, pages done, pages in all) as a child parses, from the parsing thread.
Progress = Callable[[str, int, int], None]
PARSING, OCR = "parsing", "ocr"  # progress stages (document events: keep the names stable)
IN_PROCESS = frozenset({"text/plain", "text/markdown"})
# Parses a child runs before it is replaced: bounds what a leak or a fragmented heap costs.
TASKS_PER_CHILD = 200
_PRELOAD = [
    "app.ingest.formats",
    "app.ingest.formats.docx",
    "app.ingest.formats.html",
    "app.ingest.formats.pdf",
    "app.ingest.formats.pptx",
    "app.ingest.formats.sheet",
    "app.ingest.formats.delimited",
    "app.ingest.formats.image",
    "app.ingest.formats.ocr",
    "PIL.Image",
    "app.ingest.formats.text",
    "docx",
    "pptx",
    "pypdfium2",
    "python_calamine",
]


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 60.0  # PARSE_TIMEOUT_SECONDS: wall clock and CPU time per file
    memory_mb: int = 1024  # PARSE_MEMORY_MB: address space of a parsing process
    processes: int = 2  # children parsing at once
    ocr_languages: tuple[str, ...] = ("eng",)  # OCR_LANGUAGES
    # OCR_PAGE_SECONDS: each page recognised grants this much more CPU and wall time, so a
    # scan of many pages is bounded page by page rather than cut off at timeout_seconds.
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
            return value
        if kind == "refused":
            raise IngestError(value)
        raise ParseCrashed(value)

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
        # Huge variables (pytest puts a parametrized test's whole id in one) would make the
        # exec fail with E2BIG; a parser needs none of them.
        env = {k: v for k, v in os.environ.items() if len(k) + len(v) < 32768}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, *sys.path]))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.ingest.sandbox", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
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
                    if stage == OCR:  # the child granted itself the page's CPU time
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
        if code == -signal.SIGXCPU:
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

    def kill(self) -> None:
        self.alive = False
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.connection.close()


def _too_slow(source: str, limits: Limits) -> str:
    return (
        f"{source!r} took more than {limits.timeout_seconds:g} s to parse "
        "(PARSE_TIMEOUT_SECONDS); it may be damaged or built to stall parsers"
    )


def _serve(connection: Connection) -> None:
    """The child's loop: one parse per message, each under a fresh CPU-time limit."""
    for module in _PRELOAD:  # before the first file, so no parse pays for the imports
        importlib.import_module(module)
    limited = False
    while True:
        try:
            data, media_type, source, limits = connection.recv()
        except EOFError:
            return
        if not limited:
            _lower(resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024)
            limited = True
        used = resource.getrusage(resource.RUSAGE_SELF)
        _lower(resource.RLIMIT_CPU, int(used.ru_utime + used.ru_stime + limits.timeout_seconds) + 1)
        ocr.configure(ocr.Options(limits.ocr_languages, limits.ocr_page_seconds))
        ocr.on_page = partial(_page_done, connection, limits)
        base.on_pages = partial(_report, connection, PARSING)
        connection.send(_parse_one(data, media_type, source, limits))
        del data


def _page_done(connection: Connection, limits: Limits, done: int, total: int) -> None:
    """A page was recognised: grant the next one its CPU time, and tell the parent."""
    soft = resource.getrlimit(resource.RLIMIT_CPU)[0]
    if soft != resource.RLIM_INFINITY:
        _lower(resource.RLIMIT_CPU, soft + int(limits.ocr_page_seconds) + 1)
    _report(connection, OCR, done, total)


def _report(connection: Connection, stage: str, done: int, total: int) -> None:
    connection.send(("progress", stage, done, total))


def _lower(limit: int, soft: int) -> None:
    """Set a soft limit, never above the hard one (which stays, so the next file can raise
    the soft CPU limit again)."""
    hard = resource.getrlimit(limit)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(limit, (soft, hard))


def _parse_one(data: bytes, media_type: str, source: str, limits: Limits) -> tuple[str, Any]:
    try:
        return "parsed", parse_in_process(data, media_type, source)
    except (IngestError, AppError) as exc:
        return "refused", str(exc)
    except MemoryError:
        return "refused", (
            f"{source!r} needs more than {limits.memory_mb} MB of memory to parse "
            "(PARSE_MEMORY_MB); it may be a decompression bomb"
        )
    except RecursionError:
        return "refused", f"{source!r} is nested too deeply to parse"
    except Exception as exc:
        return "crashed", f"{type(exc).__name__} while parsing {source!r}: {exc}"


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
    """Parse a stored file in a limited child process; IngestError when it cannot be read.

    `progress(stage, done, total)` is called from this thread as pages are parsed or OCR'd."""
    global _sandbox
    if media_type in IN_PROCESS:
        return parse_in_process(data, media_type, source)
    with _lock:
        if _sandbox is None or _sandbox.pid != os.getpid():
            _sandbox = Sandbox(_limits)
        sandbox = _sandbox
    return sandbox.parse(data, media_type, source, progress)


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
