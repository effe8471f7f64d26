"""Sources: places whose items are kept in sync with a collection (app/jobs/sync.py).

One module per kind behind one small protocol: `list(known)` names every item with a version
stamp (a stamp that changes whenever the item may have), `fetch(key)` reads one item.
Adding a kind (Git, Confluence) is its module plus a line in KINDS.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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
    media_type: str | None = None  # when the key's suffix does not say (a web page)


async def _nothing_stored(key: str) -> bytes | None:
    return None


@dataclass
class Known:
    """What the last sync stored: each item's stamp, and its stored bytes on request (a web
    page answered 304 Not Modified still has links to follow); `alive()` tells the job's
    lease that a long listing is making progress."""

    stamps: dict[str, str] = field(default_factory=dict)
    read: Callable[[str], Awaitable[bytes | None]] = _nothing_stored
    alive: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Network:
    """How connectors that reach out may do so: the URL-ingestion rules (ALLOW_PRIVATE_URLS,
    URL_PORTS, URL_TIMEOUT_SECONDS, MAX_UPLOAD_MB) and the HTTP client their caller owns."""

    http: Any = None  # an httpx.AsyncClient
    allow_private: bool = False
    ports: tuple[int, ...] | None = (80, 443)
    timeout: float = 15.0
    max_bytes: int = 20 * 1024 * 1024

    @classmethod
    def of(cls, settings: Any, http: Any = None) -> Network:
        """From the app's Settings (app/config.py)."""
        return cls(
            http,
            settings.allow_private_urls,
            settings.url_ports,
            settings.url_timeout_seconds,
            settings.max_upload_bytes,
        )


class Connector(Protocol):
    async def list(self, known: Known) -> list[Item]:
        """Every item, or ListingError when the listing is not complete."""

    async def fetch(self, key: str) -> bytes:
        """One item's bytes (ListingError when it vanished since the listing)."""


# kind -> its module; each has check(given) -> settings and connector(settings, network).
KINDS = {
    "folder": "app.sources.folder",
    "web": "app.sources.web",
    "s3": "app.sources.s3",
}


def _module(kind: str) -> Any:
    if not isinstance(kind, str) or kind not in KINDS:
        raise SourceSettingsError(f"unknown source kind {kind!r}; one of: {', '.join(KINDS)}")
    return importlib.import_module(KINDS[kind])


def settings_for(kind: str, given: Any) -> dict[str, Any]:
    """A new source's settings, checked now (SourceSettingsError says what is wrong)."""
    if not isinstance(given, dict):
        raise SourceSettingsError('send the source\'s "settings" as a JSON object')
    return _module(kind).check(given)


def connector(kind: str, settings: dict[str, Any], network: Network | None = None) -> Connector:
    return _module(kind).connector(settings, network or Network())


async def check_address(kind: str, settings: dict[str, Any], network: Network) -> None:
    """Refuse at once a web site or S3 endpoint that the URL rules refuse (RefusedURL, 400):
    the same check runs again before each request."""
    from app.errors import BadURL
    from app.ingest.fetch import check_url

    field_name = {"web": "url", "s3": "endpoint"}.get(kind)
    if field_name:
        url = settings[field_name]
        try:
            async with asyncio.timeout(network.timeout):  # a name server that never answers
                await check_url(
                    url, allow_private=network.allow_private, allowed_ports=network.ports
                )
        except TimeoutError:
            raise BadURL(f"{url} did not resolve within {network.timeout:g} s") from None
