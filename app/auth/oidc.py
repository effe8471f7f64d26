"""OpenID Connect sign-in, the relying party's side (authlib): the authorization code flow with
PKCE, state and nonce; discovery from the issuer; the ID token verified (signature through the
provider's JWKS, iss, aud, exp, nonce).

The routes (app/routes/oidc.py) keep each sign-in in progress server-side (app/db/identities.py)
and turn an OidcError into a page that says what went wrong; nothing here knows HTTP requests.
"""

from __future__ import annotations

import time
from typing import Any

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from app.auth.oidc_types import Authorization, Identity, OidcError, provider_down
from app.auth_settings import OidcSettings

__all__ = ["Authorization", "Identity", "OidcError", "authorization", "identity"]

SCOPE = "openid email profile"
METADATA_SECONDS = 3600.0  # discovery is read again after an hour (or on an unknown key id)
TIMEOUT = httpx2.Timeout(10.0, connect=5.0)
LEEWAY_SECONDS = 60  # clock skew allowed on exp and iat
MAX_DOCUMENT_BYTES = 1 << 20  # a discovery document or key set larger than this is refused
# Signatures with the provider's published keys only: never "none", nor a MAC keyed with the
# client secret (which any client of the provider could then forge).
ASYMMETRIC = ("RS", "PS", "ES", "EdDSA")

_metadata: dict[str, tuple[float, dict[str, Any], dict[str, Any] | None]] = {}


def client_for(settings: OidcSettings, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=TIMEOUT,
        trust_env=False,
    )


async def _get_json(client: AsyncOAuth2Client, settings: OidcSettings, url: str) -> Any:
    try:
        response = await client.request("GET", url, withhold_token=True)
    except httpx2.HTTPError as exc:
        raise provider_down(settings, exc) from exc
    if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
        raise OidcError(
            f"{settings.name} answered {response.status_code} for {url}: its sign-in is not"
            " available right now",
            "provider_error",
            502,
        )
    try:
        return response.json()
    except ValueError as exc:
        raise OidcError(f"{settings.name} sent no JSON from {url}", "provider_error", 502) from exc


async def metadata(client: AsyncOAuth2Client, settings: OidcSettings) -> dict[str, Any]:
    """The provider's discovery document (cached), checked to be about the configured issuer."""
    cached = _metadata.get(settings.issuer)
    if cached and time.monotonic() - cached[0] < METADATA_SECONDS:
        return cached[1]
    url = f"{settings.issuer}/.well-known/openid-configuration"
    document = await _get_json(client, settings, url)
    if not isinstance(document, dict) or document.get("issuer") != settings.issuer:
        raise OidcError(
            f"the discovery document at {url} names another issuer than OIDC_ISSUER",
            "issuer_mismatch",
            502,
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise OidcError(
                f"{settings.name}'s discovery document lacks {key}", "bad_discovery", 502
            )
    _metadata[settings.issuer] = (time.monotonic(), document, None)
    return document


async def _keys(
    client: AsyncOAuth2Client, settings: OidcSettings, document: dict[str, Any], fresh: bool
) -> KeySet:
    cached = _metadata.get(settings.issuer)
    jwks = cached[2] if cached and not fresh else None
    if jwks is None:
        jwks = await _get_json(client, settings, document["jwks_uri"])
        if cached:
            _metadata[settings.issuer] = (cached[0], cached[1], jwks)
    try:
        return KeySet.import_key_set(jwks)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise OidcError(f"{settings.name}'s key set is unreadable", "bad_jwks", 502) from exc


async def authorization(settings: OidcSettings, redirect_uri: str) -> Authorization:
    """Where to send the browser, with a fresh state, nonce and PKCE verifier to keep."""
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    async with client_for(settings, redirect_uri) as client:
        document = await metadata(client, settings)
        url, _ = client.create_authorization_url(
            document["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
    return Authorization(url, state, nonce, verifier)


async def identity(
    settings: OidcSettings, redirect_uri: str, code: str, code_verifier: str, nonce: str
) -> Identity:
    """Exchange the code (with the PKCE verifier) and verify the ID token it brings."""
    async with client_for(settings, redirect_uri) as client:
        document = await metadata(client, settings)
        try:
            token = await client.fetch_token(
                document["token_endpoint"], code=code, code_verifier=code_verifier
            )
        except OAuthError as exc:
            raise OidcError(
                f"{settings.name} refused the sign-in ({exc.error}): start again",
                "token_refused",
            ) from exc
        except httpx2.HTTPError as exc:
            raise provider_down(settings, exc) from exc
        except ValueError as exc:  # not JSON
            raise OidcError(f"{settings.name} sent an unreadable token", "bad_token", 502) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError(f"{settings.name} sent no ID token", "bad_token", 502)
        claims = await verified_claims(client, settings, document, token, nonce)
    email = claims.get("email")
    groups = claims.get(settings.roles_claim) if settings.roles_claim else None
    if isinstance(groups, str):
        groups = [groups]
    return Identity(
        issuer=settings.issuer,
        subject=str(claims["sub"]),
        email=email if isinstance(email, str) and "@" in email else None,
        email_verified=claims.get("email_verified") is True,
        groups=tuple(g for g in groups or () if isinstance(g, str)),
    )


async def verified_claims(
    client: AsyncOAuth2Client,
    settings: OidcSettings,
    document: dict[str, Any],
    token: dict[str, Any],
    nonce: str,
) -> CodeIDToken:
    """The ID token's claims once its signature (a key of the provider's JWKS), iss, aud,
    exp, iat, nonce and at_hash check out; OidcError (reason: which check failed) if not."""
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [a for a in offered if isinstance(a, str) and a.startswith(ASYMMETRIC)]
    try:
        try:
            keys = await _keys(client, settings, document, fresh=False)
            decoded = jwt.decode(token["id_token"], keys, algorithms=algorithms)
        except InvalidKeyIdError:  # the provider rotated its keys: read them again, once
            keys = await _keys(client, settings, document, fresh=True)
            decoded = jwt.decode(token["id_token"], keys, algorithms=algorithms)
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": settings.issuer},
                "aud": {"essential": True, "value": settings.client_id},
                "sub": {"essential": True},
            },
            {
                "nonce": nonce,
                "client_id": settings.client_id,
                "access_token": token.get("access_token"),
            },
        )
        claims.validate(leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError) as exc:
        # Which check failed goes to the audit log; the person gets one plain sentence.
        reason = getattr(exc, "error", None) or type(exc).__name__
        raise OidcError(
            f"the ID token from {settings.name} did not verify: start the sign-in again",
            f"bad_id_token: {reason}: {exc}"[:200],
        ) from exc
    return claims
