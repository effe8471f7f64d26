"""`folder` sources: a directory on the server, only under the roots in SOURCE_ROOTS.

SOURCE_ROOTS (colon-separated absolute paths; unset: folder sources are off) is read from
the environment by the web process (when a source is added) and by the worker (at every
sync: a root removed since stops its sources). Paths are resolved, so neither `..` nor a
symlink leads out of the root: a symlink inside the folder that points outside is skipped.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.ingest import formats
from app.sources import Item, Known, ListingError, Network, SourceSettingsError


def roots(environ: Any = None) -> list[Path]:
    raw = (os.environ if environ is None else environ).get("SOURCE_ROOTS", "")
    return [Path(part).resolve() for part in raw.split(":") if part.strip()]


def check(given: dict[str, Any]) -> dict[str, Any]:
    """{"path": an absolute folder under SOURCE_ROOTS}, resolved."""
    path = given.get("path")
    if not isinstance(path, str) or not path.strip():
        raise SourceSettingsError('send the folder as "path": an absolute path under SOURCE_ROOTS')
    return {"path": str(check_path(path))}


def connector(settings: dict[str, Any], network: Network) -> Folder:
    return Folder.from_settings(settings)


def check_path(path: str, environ: Any = None) -> Path:
    """The folder, resolved, if it lies under a root in SOURCE_ROOTS; else SourceSettingsError."""
    allowed = roots(environ)
    if not allowed:
        raise SourceSettingsError(
            "folder sources are off: set SOURCE_ROOTS to the folders the server may read "
            "(colon-separated) and restart",
            code="folder_sources_off",
        )
    if not os.path.isabs(path):
        raise SourceSettingsError(f"the folder {path!r} must be an absolute path")
    try:
        resolved = Path(path).resolve()
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a symlink loop
        raise SourceSettingsError(
            f"the folder {path[:200]!r} is not a usable path: {exc}"
        ) from None
    if not any(resolved == root or root in resolved.parents for root in allowed):
        raise SourceSettingsError(
            f"the folder {path!r} is not under SOURCE_ROOTS ({':'.join(str(r) for r in allowed)})",
            code="outside_source_roots",
        )
    return resolved


@dataclass(frozen=True)
class Folder:
    root: Path

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Folder:
        return cls(check_path(str(settings.get("path", ""))))

    async def list(self, known: Known) -> list[Item]:
        return await asyncio.to_thread(self._list)

    async def fetch(self, key: str) -> bytes:
        return await asyncio.to_thread(self._fetch, key)

    def _list(self) -> list[Item]:
        if not self.root.is_dir():
            raise ListingError(f"the folder {str(self.root)!r} does not exist or is not a folder")
        accepted = set(formats.suffixes())
        items: list[Item] = []
        try:
            for dirpath, _dirs, names in os.walk(self.root, onerror=_raise):
                for name in names:
                    path = Path(dirpath) / name
                    if path.suffix.lower() not in accepted or not self._inside(path):
                        continue
                    stat = path.stat()
                    key = path.relative_to(self.root).as_posix()
                    items.append(Item(key, f"{stat.st_mtime_ns}:{stat.st_size}", stat.st_size))
        except OSError as exc:
            raise ListingError(f"the folder could not be read: {exc.strerror or exc}") from exc
        return sorted(items, key=lambda item: item.key)

    def _fetch(self, key: str) -> bytes:
        path = self.root / key
        if not self._inside(path):
            raise ListingError(f"{key!r} now leads out of the folder")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ListingError(f"{key!r} could not be read: {exc.strerror or exc}") from exc

    def _inside(self, path: Path) -> bool:
        """Whether the file, its symlinks followed, is a regular file still under the root."""
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # a dangling link or a loop
            return False
        return self.root in real.parents and real.is_file()


def _raise(exc: OSError) -> None:
    raise exc
