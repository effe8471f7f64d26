"""Local files an upload passes through: spooled in bounded pieces and hashed as they go.

Local disk is only a spool: web and worker may run on different machines, so a document
is stored in Postgres (accept.py) before the request ends, and its spool file removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os

from app.errors import DISK_FULL, DocumentTooLarge, InsufficientStorage

PIECE = 256 * 1024


@dataclass
class Spooled:
    """A file on local disk with its size and sha256, known before anything reads it again."""

    path: Path
    size: int
    sha256: str

    async def pieces(self, size: int) -> AsyncIterator[bytes]:
        """The file's bytes, `size` at a time."""
        async with aiofiles.open(self.path, "rb") as file:
            while piece := await file.read(size):
                yield piece


async def read_pieces(read: Callable[[int], Awaitable[bytes]]) -> AsyncIterator[bytes]:
    """What `read(n)` (an UploadFile's read, say) yields, PIECE bytes at a time."""
    while piece := await read(PIECE):
        yield piece


@contextlib.asynccontextmanager
async def spool(
    pieces: AsyncIterable[bytes], directory: Path, limit: int, too_large: str
) -> AsyncIterator[Spooled]:
    """Write `pieces` to a file under `directory`; 413 past `limit` bytes, 507 when the
    filesystem fills up.

    The file is removed when the block ends, whatever happens.
    """
    size = 0
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", dir=directory)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise _full(size) from exc
        raise
    os.close(fd)
    path = Path(name)
    try:
        digest = hashlib.sha256()
        try:
            async with aiofiles.open(path, "wb") as file:
                async for piece in pieces:
                    size += len(piece)
                    if size > limit:
                        raise DocumentTooLarge(too_large)
                    digest.update(piece)
                    await file.write(piece)
        except OSError as exc:  # a write, or the flush on close
            if exc.errno in DISK_FULL:
                raise _full(size) from exc
            raise
        yield Spooled(path, size, digest.hexdigest())
    finally:
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(path)


def _full(size: int) -> InsufficientStorage:
    """ENOSPC/EDQUOT as a 507 a person can act on (the path stays in the server's log)."""
    return InsufficientStorage(
        f"the server ran out of disk space after receiving {size / 1e6:.1f} MB of the file,"
        " and nothing was stored: try again later, or ask the operator to free disk space"
        " under DATA_DIR/uploads"
    )


async def hashed(path: Path) -> Spooled:
    """A file that is already on local disk (the ingest command's), hashed in pieces."""
    digest = hashlib.sha256()
    size = 0
    async with aiofiles.open(path, "rb") as file:
        while piece := await file.read(PIECE):
            size += len(piece)
            digest.update(piece)
    return Spooled(path, size, digest.hexdigest())
