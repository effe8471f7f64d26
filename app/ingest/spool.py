"""Copy an upload to a temporary file in bounded pieces, hashing as it goes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os

from app.errors import DocumentTooLarge

PIECE = 256 * 1024


@dataclass
class Spooled:
    path: Path
    size: int
    sha256: str

    async def read(self) -> bytes:
        async with aiofiles.open(self.path, "rb") as file:
            return await file.read()


@contextlib.asynccontextmanager
async def spool(
    read: Callable[[int], Awaitable[bytes]], directory: Path, limit: int, too_large: str
) -> AsyncIterator[Spooled]:
    """Write what `read(n)` yields to a file under `directory`; 413 past `limit` bytes.

    The file is removed when the block ends, whatever happens.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="upload-", dir=directory)
    os.close(fd)
    path = Path(name)
    try:
        digest = hashlib.sha256()
        size = 0
        async with aiofiles.open(path, "wb") as file:
            while piece := await read(PIECE):
                size += len(piece)
                if size > limit:
                    raise DocumentTooLarge(too_large)
                digest.update(piece)
                await file.write(piece)
        yield Spooled(path, size, digest.hexdigest())
    finally:
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(path)
