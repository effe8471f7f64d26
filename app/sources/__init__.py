"""Sources: places whose items are kept in sync with a collection (app/jobs/sync.py).

One module per kind behind one small protocol: `list()` names every item with a version
stamp (a stamp that changes whenever the item may have), `fetch(key)` reads one item.
Adding a kind (Git, Confluence) is its module plus a line in `connector()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from app.errors import AppError


class ListingError(AppError):
    """The source could not be listed (gone, unreadable, refused): nothing is deleted."""

    status = 502
    code = "source_unreachable"


class SourceSettingsError(AppError):
    """A source's settings are not acceptable (status 400 through the API)."""

    status = 400
    code = "bad_source"


@dataclass(frozen=True)
class Item:
    key: str  # the item's identity within its source (a relative path, a URL, an S3 key)
    stamp: str  # changes whenever the item may have changed (mtime and size, ETag)
    size: int = 0


class Connector(Protocol):
    def list(self) -> list[Item]:
        """Every item, or ListingError when the listing is not complete."""

    def fetch(self, key: str) -> bytes:
        """One item's bytes (ListingError when it vanished since the listing)."""


KINDS = ("folder",)


def settings_for(kind: str, location: str) -> dict[str, Any]:
    """A new source's settings from where it is (a folder's path), checked now."""
    if kind == "folder":
        from app.sources.folder import check_path

        return {"path": str(check_path(location))}
    raise SourceSettingsError(f"unknown source kind {kind!r}; one of: {', '.join(KINDS)}")


def connector(kind: str, settings: dict[str, Any]) -> Connector:
    if kind == "folder":
        from app.sources.folder import Folder

        return Folder.from_settings(settings)
    raise SourceSettingsError(f"unknown source kind {kind!r}; one of: {', '.join(KINDS)}")
