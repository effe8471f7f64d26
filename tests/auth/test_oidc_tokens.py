"""The ID token checks, each on its own: tokens signed with the real provider's key (the tests
make it: tests/auth/oidc_server.py) but wrong in one way, read with the provider's discovery
document and JWKS as a sign-in would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from app.auth import oidc
from app.auth.oidc import OidcError
from app.auth_settings import OidcSettings
from tests.auth.oidc_server import CLIENT_ID, CLIENT_SECRET, SIGNING_KEY, run_provider
from tests.conftest import _free_port

NONCE = "the-nonce-of-this-sign-in"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with run_provider(_free_port(), "http://127.0.0.1:9/callback") as url:
        yield url


def claims(issuer: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": issuer, "aud": CLIENT_ID, "sub": "ada", "iat": now, "exp": now + 300}
    return {**base, "nonce": NONCE, **changes}


def check(issuer: str, token: str) -> dict[str, Any]:
    settings = OidcSettings(issuer, CLIENT_ID, CLIENT_SECRET, name="Test IdP")

    async def run() -> dict[str, Any]:
        async with oidc.client_for(settings, "http://127.0.0.1:9/callback") as client:
            document = await oidc.metadata(client, settings)
            found = await oidc.verified_claims(
                client, settings, document, {"id_token": token}, NONCE
            )
            return dict(found)

    return asyncio.run(run())


def signed(payload: dict[str, Any], key: Any = SIGNING_KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "tests-key"}, payload, key)


def refused(issuer: str, token: str) -> str:
    with pytest.raises(OidcError) as caught:
        check(issuer, token)
    assert "did not verify" in caught.value.message
    return caught.value.reason


def test_a_token_signed_by_the_provider_passes(issuer):
    assert check(issuer, signed(claims(issuer)))["sub"] == "ada"


def test_a_token_signed_with_another_key_is_refused(issuer):
    forged = RSAKey.generate_key(2048, parameters={"kid": "tests-key"})
    assert "bad_id_token" in refused(issuer, signed(claims(issuer), forged))


def test_a_token_signed_with_the_client_secret_is_refused(issuer):
    # Any client of the provider knows its own secret: an HMAC token proves nothing.
    secret = OctKey.import_key(CLIENT_SECRET.encode())
    token = jwt.encode({"alg": "HS256"}, claims(issuer), secret, algorithms=["HS256"])
    assert "bad_id_token" in refused(issuer, token)


def test_a_token_for_another_client_is_refused(issuer):
    assert "aud" in refused(issuer, signed(claims(issuer, aud="another-client")))


def test_a_token_from_another_issuer_is_refused(issuer):
    assert "iss" in refused(issuer, signed(claims(issuer, iss="https://evil.example")))


def test_an_expired_token_is_refused(issuer):
    old = int(time.time()) - 3600
    assert "exp" in refused(issuer, signed(claims(issuer, iat=old - 300, exp=old)))


def test_a_token_of_another_sign_in_is_refused(issuer):
    assert "nonce" in refused(issuer, signed(claims(issuer, nonce="another-nonce")))


def test_a_token_without_a_subject_is_refused(issuer):
    payload = claims(issuer)
    del payload["sub"]
    assert "sub" in refused(issuer, signed(payload))
