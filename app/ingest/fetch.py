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
import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from app.errors import BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from app.ingest.formats import DOCX

MAX_REDIRECTS = 5
DEFAULT_PORTS = (80, 443)
# NAT64 prefixes: a gateway connects to the IPv4 address in the last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/pdf": ".pdf",
    DOCX: ".docx",
}


@dataclass
class Fetched:
    url: str  # after redirects
    media_type: str
    data: bytes


class RefusedURL(BadRequest):
    code = "url_refused"


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    allowed_ports: Collection[int] | None = DEFAULT_PORTS,
) -> Fetched:
    """GET a document, following up to MAX_REDIRECTS redirects by hand."""
    try:
        async with asyncio.timeout(timeout):
            for _ in range(MAX_REDIRECTS + 1):
                address = await check_url(
                    url, allow_private=allow_private, allowed_ports=allowed_ports
                )
                target, headers, extensions = _pinned(url, address)
                async with client.stream(
                    "GET",
                    target,
                    headers=headers,
                    extensions=extensions,
                    follow_redirects=False,
                    timeout=timeout,
                ) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    return await _read(response, url, max_bytes)
    except TimeoutError:
        raise Unprocessable(
            f"{url} did not answer within {timeout:g} s (URL_TIMEOUT_SECONDS)", code="url_timeout"
        ) from None
    except httpx.TimeoutException:
        raise Unprocessable(
            f"{url} did not answer within {timeout:g} s (URL_TIMEOUT_SECONDS)", code="url_timeout"
        ) from None
    except httpx.HTTPError as exc:
        raise Unprocessable(f"could not fetch {url}: {exc}", code="url_unreachable") from None
    raise Unprocessable(f"{url} redirects more than {MAX_REDIRECTS} times", code="url_redirects")


async def _read(response: httpx.Response, url: str, max_bytes: int) -> Fetched:
    if response.status_code >= 400:
        raise Unprocessable(
            f"{url} answered HTTP {response.status_code}; check the address", code="url_status"
        )
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CONTENT_TYPES:
        accepted = ", ".join(sorted(CONTENT_TYPES))
        raise UnsupportedMediaType(
            f"{url} is {media_type or 'of no stated type'}; documents must be one of: {accepted}"
        )
    too_large = f"{url} is larger than MAX_UPLOAD_MB ({max_bytes // (1024 * 1024)} MB)"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(too_large)
    body = bytearray()
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > max_bytes:  # a server may lie about, or omit, its length
            raise PayloadTooLarge(too_large)
    if media_type == "application/xhtml+xml":
        media_type = "text/html"
    return Fetched(url, media_type, bytes(body))


def _pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
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
        raise BadRequest(f"{url!r} is not an http:// or https:// URL", code="bad_url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BadRequest(f"{url!r} has an invalid port", code="bad_url") from None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError:
        raise Unprocessable(
            f"the host {parts.hostname!r} of {url} does not resolve", code="url_unreachable"
        ) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])  # no IPv6 zone
        reason = refused_because(address, allow_private=allow_private)
        if reason:
            raise RefusedURL(
                f"{url} points to {address}, {reason}; only public addresses may be fetched"
            )
        # ALLOW_PRIVATE_URLS (local use) reaches local servers on any port.
        private = allow_private and refused_because(address, allow_private=False)
        if allowed_ports is not None and port not in allowed_ports and not private:
            ports = ", ".join(str(p) for p in sorted(allowed_ports))
            raise RefusedURL(
                f"{url} uses port {port}; only ports {ports} may be fetched (URL_PORTS)"
            )
    if not infos:
        raise Unprocessable(
            f"the host {parts.hostname!r} of {url} does not resolve", code="url_unreachable"
        )
    return str(ipaddress.ip_address(infos[0][4][0].split("%", 1)[0]))


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
