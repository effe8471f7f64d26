"""The per-user folder where files derived from installed packages are written once per
machine (the language model's unpacked arrays, the dynamically quantized MiniLM)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def cache_root() -> Path:
    """A directory only this user can write (a shared /tmp must not let another user put a
    model of their own in front of the app)."""
    root = Path(tempfile.gettempdir()) / f"rag-cache-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    info = root.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise PermissionError(f"{root} is not a directory only this user can write")
    return root
