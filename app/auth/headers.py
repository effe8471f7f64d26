"""Security headers sent with every HTTP response."""

from __future__ import annotations

# No inline script anywhere: the pages load their JS from /static. Inline style attributes are
# allowed (the UI sets a few), scripts are not; nothing may frame the site.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
COMMON: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers(tls: bool) -> list[tuple[bytes, bytes]]:
    return [*COMMON, HSTS] if tls else COMMON


def merge_headers(
    headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """The response's headers plus `extra`; a name the response already sends is not sent twice
    (its own value wins: a file download sets its own nosniff, an SSE stream its own no-store)."""
    present = {name.lower() for name, _ in headers}
    return [*headers, *((name, value) for name, value in extra if name not in present)]
