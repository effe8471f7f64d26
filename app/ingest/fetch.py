"""Fetch a document from a URL: every redirect hop checked, time and size capped.

Each hop's host is resolved and refused when any address is loopback, private,
link-local, multicast or reserved (ALLOW_PRIVATE_URLS lets loopback and private
networks through for local use; link-local, where cloud metadata lives, never is).
The request then goes to the address that was checked, with the name in the Host header
and in TLS SNI: letting httpx resolve the name again let a DNS server answer a public
address to the check and 127.0.0.1 to the connection (DNS rebinding). Public addresses
are reached on URL_PORTS only (80 and 443 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from app.errors import BadURL, DocumentTooLarge, IngestError, RefusedURL, UnsupportedDocument
from app.ingest import formats
from app.ingest.formats import Format
from app.ingest.spool import Spooled, spool

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
DEFAULT_PORTS = (80, 443)
# NAT64 prefixes: a gateway connects to the IPv4 address in the last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


@dataclass
class Fetched:
    url: str  # after redirects
    format: Format  # by the answer's Content-Type
    file: Spooled


@contextlib.asynccontextmanager
async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    directory: Path,
    allowed_ports: Collection[int] | None = DEFAULT_PORTS,
) -> AsyncIterator[Fetched]:
    """GET a document into a spool file under `directory`, removed when the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        # The timeout covers the download only, not what the caller does with the file.
        yield await _download(
            stack, client, url, max_bytes, timeout, allow_private, directory, allowed_ports
        )


async def _download(
    stack: contextlib.AsyncExitStack,
    client: httpx.AsyncClient,
    url: str,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    directory: Path,
    allowed_ports: Collection[int] | None,
) -> Fetched:
    """Follow up to MAX_REDIRECTS redirects by hand, then spool the body."""
    async with _answer(client, url, {}, timeout, allow_private, allowed_ports) as answer:
        final, response = answer
        return await _read(stack, response, final, max_bytes, directory)


@dataclass
class Page:
    """A small resource read into memory (a web page, robots.txt, a sitemap)."""

    url: str  # after redirects
    status: int
    headers: httpx.Headers
    body: bytes  # empty unless the status is 2xx and the type is one asked for

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


async def get(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    types: Collection[str] | None = None,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    allowed_ports: Collection[int] | None = DEFAULT_PORTS,
) -> Page:
    """GET `url` with every hop checked like fetch(); any status is answered (the caller
    decides what a 304 or a 404 means); the body is read, at most `max_bytes` of it, only
    for a 2xx answer whose media type is in `types` (None: any)."""
    async with _answer(client, url, headers or {}, timeout, allow_private, allowed_ports) as answer:
        final, response = answer
        body = b""
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.is_success and (types is None or media_type in types):
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DocumentTooLarge(f"{final} is larger than {max_bytes:,} bytes")
            parts: list[bytes] = []
            size = 0
            async for piece in response.aiter_bytes():
                size += len(piece)
                if size > max_bytes:  # a server may lie about, or omit, its length
                    raise DocumentTooLarge(f"{final} is larger than {max_bytes:,} bytes")
                parts.append(piece)
            body = b"".join(parts)
        return Page(final, response.status_code, response.headers, body)


@contextlib.asynccontextmanager
async def _answer(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    timeout: float,
    allow_private: bool,
    allowed_ports: Collection[int] | None,
) -> AsyncIterator[tuple[str, httpx.Response]]:
    """The answer after up to MAX_REDIRECTS redirects, each hop's address checked and
    pinned; the whole exchange (the caller's reading too) within `timeout`."""
    with _errors(url, timeout):
        async with asyncio.timeout(timeout):
            for _ in range(MAX_REDIRECTS + 1):
                address = await check_url(
                    url, allow_private=allow_private, allowed_ports=allowed_ports
                )
                target, pinned, extensions = pinned_to(url, address)
                async with client.stream(
                    "GET",
                    target,
                    headers={**headers, **pinned},
                    extensions=extensions,
                    follow_redirects=False,
                    timeout=timeout,
                ) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    yield url, response
                    return
            raise IngestError(
                f"{url} redirects more than {MAX_REDIRECTS} times", code="url_redirects"
            )


@contextlib.contextmanager
def _errors(url: str, timeout: float) -> Iterator[None]:
    """httpx's and the clock's errors in words (URL_TIMEOUT_SECONDS, unreachable)."""
    try:
        yield
    except (TimeoutError, httpx.TimeoutException):
        raise IngestError(
            f"{url} did not answer within {timeout:g} s (URL_TIMEOUT_SECONDS)", code="url_timeout"
        ) from None
    except httpx.HTTPError as exc:
        raise IngestError(f"could not fetch {url}: {exc}", code="url_unreachable") from None


async def _read(
    stack: contextlib.AsyncExitStack,
    response: httpx.Response,
    url: str,
    max_bytes: int,
    directory: Path,
) -> Fetched:
    if response.status_code >= 400:
        raise IngestError(
            f"{url} answered HTTP {response.status_code}; check the address", code="url_status"
        )
    content_type = response.headers.get("content-type", "")
    fmt = formats.for_content_type(content_type)
    if fmt is None:
        media_type = content_type.split(";")[0].strip().lower()
        accepted = ", ".join(formats.content_types())
        raise UnsupportedDocument(
            f"{url} is {media_type or 'of no stated type'}; documents must be one of: {accepted}"
        )
    too_large = f"{url} is larger than MAX_UPLOAD_MB ({max_bytes // (1024 * 1024)} MB)"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DocumentTooLarge(too_large)
    # Spooling counts the bytes: a server may lie about, or omit, its length.
    pieces = response.aiter_bytes()
    file = await stack.enter_async_context(spool(pieces, directory, max_bytes, too_large))
    return Fetched(url, fmt, file)


def pinned_to(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL with its host replaced by the checked address; the Host header and SNI."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    name = parts.hostname or ""
    shown = f"[{name}]" if ":" in name else name
    headers = {"Host": shown if parts.port is None else f"{shown}:{parts.port}"}
    extensions = {"sni_hostname": name} if parts.scheme == "https" else {}
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), headers, extensions


async def check_url(
    url: str, *, allow_private: bool, allowed_ports: Collection[int] | None = DEFAULT_PORTS
) -> str:
    """Refuse non-HTTP URLs and hosts that resolve to addresses we must not reach.

    Returns the address to connect to (the first one the name resolved to; all passed).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadURL(f"{url!r} is not an http:// or https:// URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BadURL(f"{url!r} has an invalid port") from None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError:
        infos = []
    if not infos:
        _refuse(url, "it does not resolve", allow_private)
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])  # no IPv6 zone
        reason = refused_because(address, allow_private=allow_private)
        if reason:
            _refuse(url, f"it resolves to {address}, {reason}", allow_private)
        # ALLOW_PRIVATE_URLS (local use) reaches local servers on any port.
        private = allow_private and refused_because(address, allow_private=False)
        if allowed_ports is not None and port not in allowed_ports and not private:
            ports = ", ".join(str(p) for p in sorted(allowed_ports))
            raise RefusedURL(
                f"{url} uses port {port}; only ports {ports} may be fetched (URL_PORTS)"
            )
    return str(ipaddress.ip_address(infos[0][4][0].split("%", 1)[0]))


# One answer for a host that does not resolve and one that resolves to an address we refuse:
# telling them apart, or naming the address, would make the server a probe of internal DNS.
NOT_PUBLIC = (
    "{url} cannot be fetched: its host does not resolve to a public address (loopback, "
    "private and link-local addresses are refused; ALLOW_PRIVATE_URLS allows the first two)"
)


def _refuse(url: str, why: str, allow_private: bool) -> NoReturn:
    """Refuse a URL: the details go to the log; the caller gets them only where private
    addresses are allowed anyway (local use)."""
    log.info("URL refused: %s: %s", url, why)
    if allow_private:
        raise RefusedURL(f"{url} cannot be fetched: {why}")
    raise RefusedURL(NOT_PUBLIC.format(url=url))


def refused_because(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool
) -> str | None:
    """Why an address must not be fetched, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return "a NAT64 address (its IPv4 address cannot be checked)"
        if address in _NAT64:  # 64:ff9b::7f00:1 reaches 127.0.0.1 through a gateway
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address.ipv4_mapped:
            address = address.ipv4_mapped
        elif address.sixtofour:
            address = address.sixtofour
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_multicast or address.is_unspecified:
        return "not a host address"
    if address.is_loopback:
        return None if allow_private else "a loopback address (set ALLOW_PRIVATE_URLS to allow)"
    if address.is_private or address.is_reserved or not address.is_global:
        return None if allow_private else "a private address (set ALLOW_PRIVATE_URLS to allow)"
    return None
