"""Random secrets: session ids, CSRF tokens, invitation tokens and API keys.

Only SHA-256 digests are stored: the secrets carry 256 bits of randomness, so a slow hash adds
nothing, and a digest is one index lookup per request.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "rag_"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_api_key() -> tuple[str, str]:
    """(key, prefix): the key is shown once; the prefix stays visible in lists."""
    prefix = KEY_PREFIX + secrets.token_hex(4)
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix
