"""The per-user folder where files derived from installed packages are written once per
machine (the language model's unpacked arrays, the dynamically quantized MiniLM)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    """A file's sha256 (hex), read in blocks: what a derived file's folder is keyed by."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_root() -> Path:
    """A directory only this user can write (a shared /tmp must not let another user put a
    model of their own in front of the app)."""
    root = Path(tempfile.gettempdir()) / f"rag-cache-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    info = root.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise PermissionError(f"{root} is not a directory only this user can write")
    return root


def built_once(
    folder: Path, build: Callable[[Path], None], complete: Callable[[Path], bool]
) -> Path:
    """`folder`, built on first use: `build` writes into a fresh folder beside it, which is
    then renamed into place (several processes may start together: the first rename wins and
    the others drop their copy). A folder that is not `complete` is built again."""
    if complete(folder):
        return folder
    if folder.exists():
        log.warning("rebuilding %s: it is incomplete or damaged", folder)
        shutil.rmtree(folder, ignore_errors=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        build(building)
        os.rename(building, folder)
    except OSError:
        if not complete(folder):  # not another process's finished copy: a real failure
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder
