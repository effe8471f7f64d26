"""The parsing child's side of the sandbox (app/ingest/sandbox.py): a zygote that forks one
confined process per file.

The zygote starts with an empty environment, imports the parsers once, and moves into a network
namespace of its own where the kernel allows it (a user namespace with it, so no privilege is
needed). For each file it forks a process that, before it reads a byte of the file:
- sets hard limits equal to soft ones (address space, CPU time, open files, processes), so
  nothing it runs can raise them;
- closes every descriptor but the pipe its result goes back on (not the worker's connection);
- installs an audit hook that refuses sockets, subprocesses and opening any file for writing,
  or for reading outside the Python installation and the app's code: the file arrives through
  the pipe, and that is all it may read. The hook also keeps a parser from the network where
  no namespace could be made.
The result goes back as JSON lines, never pickle: the zygote trusts nothing a parse process
sends. Lines before the last are progress (pages parsed, pages recognised by OCR), passed on to
the worker as they come; the last is the outcome.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import resource
import signal
import sys
from dataclasses import asdict
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MAX_RESULT_BYTES = 512 * 1024 * 1024
OPEN_FILES = 64
PRELOAD = [
    "app.ingest.formats",
    "app.ingest.formats.docx",
    "app.ingest.formats.html",
    "app.ingest.formats.pdf",
    "app.ingest.formats.pptx",
    "app.ingest.formats.sheet",
    "app.ingest.formats.delimited",
    "app.ingest.formats.image",
    "app.ingest.formats.ocr",
    "app.ingest.formats.text",
    "PIL.Image",
    "docx",
    "pptx",
    "pypdfium2",
    "python_calamine",
]
# Formats whose pages may be recognised by OCR: their CPU limit leaves room for the pages (each
# is bounded inside the engine by OCR_PAGE_SECONDS, and the worker's clock grows per page).
OCR_MEDIA = ("application/pdf", "image/")
_network = "shared"  # what the zygote managed: "namespace" or "audit hook only"


def isolate_network() -> str:
    """Move this (single-threaded) process into an empty network namespace if the kernel lets
    us; the audit hook refuses sockets in any case."""
    libc = ctypes.CDLL(None, use_errno=True)
    for flags in (CLONE_NEWUSER | CLONE_NEWNET, CLONE_NEWNET):
        if libc.unshare(flags) == 0:
            return "namespace"
    return "audit hook only"


def _readable_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *(p for p in sys.path if p)}
    return tuple(os.path.join(os.path.realpath(r), "") for r in roots if os.path.isdir(r))


def _confine(limits: Any, result_fd: int, media_type: str) -> None:
    """Everything a parse process does before it looks at the file."""
    from app.ingest.formats.pdf import MAX_OCR_PAGES

    os.closerange(3, result_fd)
    os.closerange(result_fd + 1, 1 << 16)
    memory = limits.memory_mb * 1024 * 1024
    cpu = int(limits.timeout_seconds) + 1
    if media_type.startswith(OCR_MEDIA):
        cpu += int(MAX_OCR_PAGES * limits.ocr_page_seconds)
    for limit, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_NOFILE, OPEN_FILES),
        (resource.RLIMIT_NPROC, 0),
        (resource.RLIMIT_CORE, 0),
    ):
        hard = resource.getrlimit(limit)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, value))
    roots = _readable_roots()

    def refuse(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith("socket.") or event in (
            "subprocess.Popen",
            "os.system",
            "os.exec",
            "os.posix_spawn",
            "os.spawn",
            "os.fork",
            "os.forkpty",
        ):
            raise PermissionError(f"a parser may not use {event}")
        if event == "open":
            path, mode = args[0], args[1]
            if isinstance(path, int):
                return  # an already open descriptor (the result pipe)
            writing = mode is not None and any(c in str(mode) for c in "wax+")
            if writing or not os.path.realpath(os.fsdecode(path)).startswith(roots):
                raise PermissionError(f"a parser may not open {os.fsdecode(path)!r}")

    sys.addaudithook(refuse)


def _probe() -> dict[str, Any]:
    """What a parse process can see and do: for the tests and for people checking a host."""

    def attempt(action: Any) -> str:
        try:
            action()
        except Exception as exc:  # what the confinement answered
            return f"refused: {type(exc).__name__}: {exc}"
        return "allowed"

    import socket

    return {
        "environment": sorted(os.environ),
        "limits": {
            name: list(resource.getrlimit(getattr(resource, name)))
            for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_NPROC")
        },
        "network": _network,
        "connect": attempt(lambda: socket.create_connection(("127.0.0.1", 9), timeout=1)),
        "read_etc_passwd": attempt(lambda: open("/etc/passwd", "rb").close()),
        "write_file": attempt(lambda: open("/tmp/parser-was-here", "w").close()),
        "subprocess": attempt(lambda: os.system("true")),
    }


def _parse(data: bytes, media_type: str, source: str, limits: Any) -> tuple[str, Any]:
    from app.errors import AppError
    from app.ingest.formats import parse
    from app.ingest.formats.base import IngestError

    try:
        return "parsed", asdict(parse(data, media_type, source))
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


def _report(out: Any, stage: str, done: int, total: int) -> None:
    out.write(json.dumps(["progress", stage, done, total]).encode() + b"\n")
    out.flush()


def _run_one(task: tuple[Any, ...], connection: Connection) -> tuple[str, Any]:
    """Fork a confined process for one task; its JSON result, or how it died. Progress lines
    it writes first go on to the worker."""
    from app.ingest.formats import base, ocr

    data, media_type, source, limits = task
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the parse process
        code = 1
        try:
            os.close(read_end)
            _confine(limits, write_end, media_type)
            out = os.fdopen(write_end, "wb")
            base.on_pages = partial(_report, out, "parsing")
            ocr.configure(ocr.Options(limits.ocr_languages, limits.ocr_page_seconds))
            ocr.on_page = partial(_report, out, "ocr")
            if media_type == "probe":
                outcome: tuple[str, Any] = ("probe", _probe())
            else:
                outcome = _parse(data, media_type, source, limits)
            del data
            out.write(json.dumps(outcome).encode())
            out.close()
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    chunks, size = [], 0
    with os.fdopen(read_end, "rb") as pipe:
        while line := pipe.readline(MAX_RESULT_BYTES + 1 - size):
            size += len(line)
            if size > MAX_RESULT_BYTES:
                os.kill(pid, signal.SIGKILL)
                break
            if line.endswith(b"\n") and line.startswith(b'["progress"'):
                with contextlib.suppress(ValueError, TypeError):  # a hostile line is dropped
                    _, stage, done, total = json.loads(line)
                    if stage in ("parsing", "ocr"):
                        connection.send(("progress", stage, int(done), int(total)))
                continue
            chunks.append(line)
    _, status, usage = os.wait4(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and size <= MAX_RESULT_BYTES:
        try:
            kind, value = json.loads(b"".join(chunks))
        except ValueError:
            return "crashed", f"the parser of {source!r} sent back something unreadable"
        if kind in ("parsed", "refused", "crashed", "probe"):
            return kind, value
        return "crashed", f"the parser of {source!r} sent back something unreadable"
    used = usage.ru_utime + usage.ru_stime
    if os.WIFSIGNALED(status):
        # A CPU limit ends the process with SIGXCPU or, at the hard limit, SIGKILL.
        return "died", [-os.WTERMSIG(status), used]
    return "died", [os.WEXITSTATUS(status), used]


def serve(connection: Connection) -> None:
    """The zygote's loop: one confined process per message."""
    global _network
    _network = isolate_network()  # first, while the process has one thread
    for module in PRELOAD:  # before the first file, so no parse pays for the imports
        importlib.import_module(module)
    while True:
        try:
            task = connection.recv()
        except EOFError:
            return
        connection.send(_run_one(task, connection))
        del task
