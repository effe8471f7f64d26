"""What the sign-in routes need of OpenID Connect without loading its libraries.

authlib, joserfc and httpx2 (with cryptography) cost a web worker 13 MB: app/auth/oidc.py, which
uses them, is imported by the first sign-in with a provider, not by every worker of every site.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.auth_settings import OidcSettings


class OidcError(Exception):
    """A sign-in that cannot finish; `message` is for the person, `reason` for the audit log."""

    def __init__(self, message: str, reason: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.status = status


def provider_down(settings: OidcSettings, exc: Exception) -> OidcError:
    return OidcError(
        f"{settings.name} could not be reached ({type(exc).__name__}): try again in a minute,"
        " or sign in with your email and password",
        "provider_unreachable",
        502,
    )


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from a verified ID token."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    groups: tuple[str, ...]
