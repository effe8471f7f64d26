"""`web` sources: the pages of a website under a start URL, or the pages a sitemap.xml lists.

Only the start URL's host and path prefix (its folder: `/docs/` for `/docs/index.html`) are
followed; robots.txt is obeyed; at most `max_pages` pages, `max_depth` links from the start.
Every request goes through the URL-ingestion fetcher (app/ingest/fetch.py: each hop's
address checked and pinned, ALLOW_PRIVATE_URLS, URL_PORTS, a time and size cap).

Listing fetches each page conditionally (If-None-Match / If-Modified-Since from the stamp
stored last time): a page answered 304 keeps its stamp, so the sync neither parses nor
embeds it, and its links are read from the stored copy. A start page, sitemap or robots.txt
that cannot be read fails the listing (nothing is deleted); another page that answers 5xx
or cannot be read is still listed, so the sync keeps its document and reports it; a page
that answers 404 or 410 is gone.
"""

from __future__ import annotations

import hashlib
import posixpath
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from selectolax.lexbor import LexborHTMLParser

from app.errors import AppError
from app.ingest import fetch as fetcher
from app.ingest import formats
from app.sources import Item, Known, ListingError, Network, SourceSettingsError

AGENT = "ask-your-documents-sync"  # the name robots.txt rules may address
MAX_PAGES, MAX_PAGES_CAP = 200, 2000
MAX_DEPTH, MAX_DEPTH_CAP = 3, 10
MAX_SITEMAPS = 20  # child sitemaps of a sitemap index
CACHE_BYTES = 64 * 1024 * 1024  # bodies read while listing, kept for fetch()
HTML = ("text/html", "application/xhtml+xml")
# Links to these are never requested: they are not documents.
SKIPPED = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".css", ".js", ".zip",
           ".gz", ".mp3", ".mp4", ".woff", ".woff2", ".ttf", ".exe", ".dmg"}  # fmt: skip


def check(given: dict[str, Any]) -> dict[str, Any]:
    """{"url": the start page or a sitemap.xml, "max_pages", "max_depth"}."""
    url = given.get("url")
    if not isinstance(url, str) or not url.strip() or len(url) > 2048:
        raise SourceSettingsError('send the site as "url": an http:// or https:// address')
    try:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("no http(s) host")
        normal = _normal(url.strip())  # reads the port: out of range is a ValueError
    except ValueError:
        raise SourceSettingsError(f"{url[:200]!r} is not an http:// or https:// URL") from None
    return {
        "url": normal,
        "max_pages": _bounded(given, "max_pages", MAX_PAGES, 1, MAX_PAGES_CAP),
        "max_depth": _bounded(given, "max_depth", MAX_DEPTH, 0, MAX_DEPTH_CAP),
    }


def _bounded(given: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = given.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SourceSettingsError(f"{name} is a whole number from {low} to {high}")
    return value


def connector(settings: dict[str, Any], network: Network) -> Web:
    return Web(settings["url"], settings["max_pages"], settings["max_depth"], network)


def _normal(url: str) -> str:
    """One spelling per page: no fragment, lower-case scheme and host, no default port."""
    parts = urlsplit(url)
    netloc = (parts.hostname or "").lower()
    if ":" in netloc:
        netloc = f"[{netloc}]"
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if parts.port is not None and parts.port != default:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def _stamp(page: fetcher.Page) -> str:
    if etag := page.headers.get("etag"):
        return f"etag:{etag}"
    if modified := page.headers.get("last-modified"):
        return f"modified:{modified}"
    return f"sha256:{hashlib.sha256(page.body).hexdigest()}"


def _conditional(stamp: str | None) -> dict[str, str]:
    if stamp and stamp.startswith("etag:"):
        return {"If-None-Match": stamp[5:]}
    if stamp and stamp.startswith("modified:"):
        return {"If-Modified-Since": stamp[9:]}
    return {}


@dataclass
class Web:
    url: str
    max_pages: int
    max_depth: int
    network: Network
    _bodies: dict[str, bytes] = field(default_factory=dict)
    _cached: int = 0
    _problems: dict[str, str] = field(default_factory=dict)  # listed, but unreadable: why

    @property
    def sitemap(self) -> bool:
        return urlsplit(self.url).path.lower().endswith(".xml")

    def in_scope(self, url: str) -> bool:
        """Same scheme, host and port as the start URL, and under its folder."""
        start, other = urlsplit(self.url), urlsplit(url)
        folder = posixpath.dirname(start.path).rstrip("/") + "/"
        return (start.scheme, start.netloc) == (other.scheme, other.netloc) and (
            other.path.startswith(folder)
        )

    async def list(self, known: Known) -> list[Item]:
        robots = await self._robots()
        if self.sitemap:
            queue = deque((url, self.max_depth) for url in await self._sitemap_urls(robots))
        else:
            queue = deque([(self.url, 0)])
        seen = {url for url, _ in queue}
        items: dict[str, Item] = {}
        requests = 0
        while queue and len(items) < self.max_pages and requests < 2 * self.max_pages + 10:
            url, depth = queue.popleft()
            if not robots.can_fetch(AGENT, url):
                continue
            requests += 1
            known.alive()
            item, html = await self._list_page(url, known, first=url == self.url)
            if item is None or item.key in items:
                continue
            items[item.key] = item
            if html is None or depth >= self.max_depth:
                continue
            for link in _links(html, item.key):
                if link not in seen and self.in_scope(link) and not _skipped(link):
                    seen.add(link)
                    queue.append((link, depth + 1))
        return sorted(items.values(), key=lambda item: item.key)

    async def fetch(self, key: str) -> bytes:
        if key in self._problems:
            raise ListingError(self._problems[key])
        if key in self._bodies:
            return self._bodies.pop(key)
        page = await self._get(key)
        if not page.is_success or not page.body:
            raise ListingError(f"{key} answered HTTP {page.status}")
        return page.body

    async def _get(
        self, url: str, headers: dict[str, str] | None = None, types: Any = "documents"
    ) -> fetcher.Page:
        """GET through the pinned fetcher; bodies of document types only, unless `types`."""
        if types == "documents":
            types = formats.content_types()
        try:
            page = await fetcher.get(
                self.network.http,
                url,
                headers={"User-Agent": AGENT, **(headers or {})},
                types=types,
                max_bytes=self.network.max_bytes,
                timeout=self.network.timeout,
                allow_private=self.network.allow_private,
                allowed_ports=self.network.ports,
            )
        except AppError as exc:  # refused, unreachable, too slow, too large
            raise ListingError(exc.message) from None
        page.url = _normal(page.url)
        return page

    async def _list_page(
        self, url: str, known: Known, *, first: bool
    ) -> tuple[Item | None, bytes | None]:
        """The page as an item (None: gone, out of scope, not a document) and its HTML."""
        stamp = known.stamps.get(url)
        try:
            page = await self._get(url, _conditional(stamp))
        except ListingError as exc:
            if first:
                raise
            self._problems.setdefault(url, exc.message)
            return Item(url, "unreadable"), None
        if page.url != url and not self.in_scope(page.url):
            return None, None  # redirected out of the site
        if page.status == 304 and stamp:
            stored = await known.read(page.url)
            return Item(page.url, stamp), stored if stored and _looks_html(stored) else None
        if page.status >= 500 or (first and not page.is_success):
            why = f"{page.url} answered HTTP {page.status}"
            if first:
                raise ListingError(f"{why}; the site's pages were not listed")
            self._problems.setdefault(page.url, why)
            return Item(page.url, "unreadable"), None
        media_type = page.headers.get("content-type", "").split(";")[0].strip().lower()
        if not page.is_success or not page.body:  # gone (4xx), or not a document type
            return None, None
        item = Item(page.url, _stamp(page), len(page.body), media_type)
        if self._cached + len(page.body) <= CACHE_BYTES:  # else fetch() asks again
            self._bodies[page.url] = page.body
            self._cached += len(page.body)
        return item, page.body if media_type in HTML else None

    async def _robots(self) -> RobotFileParser:
        """The site's robots.txt rules; none when it has none (4xx); a listing error when it
        cannot be read (5xx, unreachable): crawling then could break its rules."""
        parts = urlsplit(self.url)
        url = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
        robots = RobotFileParser(url)
        try:
            page = await fetcher.get(
                self.network.http,
                url,
                headers={"User-Agent": AGENT},
                max_bytes=512 * 1024,
                timeout=self.network.timeout,
                allow_private=self.network.allow_private,
                allowed_ports=self.network.ports,
            )
        except AppError as exc:
            raise ListingError(f"robots.txt could not be read: {exc.message}") from None
        if page.status >= 500:
            raise ListingError(f"{url} answered HTTP {page.status}; nothing was crawled")
        robots.parse(page.body.decode("utf-8", "replace").splitlines() if page.is_success else [])
        return robots

    async def _sitemap_urls(self, robots: RobotFileParser) -> list[str]:
        """The pages a sitemap (or a sitemap index's sitemaps) lists, in scope and allowed."""
        urls: list[str] = []
        todo, read = [self.url], 0
        while todo and read <= MAX_SITEMAPS:
            sitemap = todo.pop(0)
            read += 1
            page = await self._get(sitemap, types=None)  # any type: servers differ
            if not page.is_success or not page.body:
                raise ListingError(f"the sitemap {sitemap} answered HTTP {page.status}")
            try:
                root = ET.fromstring(page.body)
            except ET.ParseError as exc:
                raise ListingError(
                    f"the sitemap {sitemap} is not whole XML ({exc}); nothing was changed"
                ) from None
            for loc in root.iter():
                if not loc.tag.endswith("loc") or not loc.text:
                    continue
                url = _normal(urljoin(sitemap, loc.text.strip()))
                if root.tag.endswith("sitemapindex"):
                    if self.in_scope(url):
                        todo.append(url)
                elif self.in_scope(url) and url not in urls and robots.can_fetch(AGENT, url):
                    urls.append(url)
        return urls[: self.max_pages]


def _links(html: bytes, base: str) -> list[str]:
    tree = LexborHTMLParser(html)
    found = []
    for node in tree.css("a[href]"):
        href = (node.attributes.get("href") or "").strip()
        if href and not href.startswith(("mailto:", "javascript:", "#")):
            found.append(_normal(urljoin(base, href)))
    return found


def _looks_html(body: bytes) -> bool:
    head = body[:1024].lower()
    return b"<html" in head or b"<!doctype html" in head or b"<a " in body[:65536].lower()


def _skipped(url: str) -> bool:
    return posixpath.splitext(urlsplit(url).path)[1].lower() in SKIPPED
