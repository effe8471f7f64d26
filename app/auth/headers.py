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
