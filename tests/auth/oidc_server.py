"""A real OpenID Provider for the tests: `oidc-provider` from npm (installed by .ci/run into
node_modules), run by Node from tests/auth/oidc_provider.mjs on a loopback port; and a walk
through its own login and consent forms with httpx, for the HTTP-level tests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
CLIENT_ID = "rag-tests"
CLIENT_SECRET = "a-client-secret-for-the-tests-only"
# The provider's accounts: its development login form signs in the one named by the login.
ACCOUNTS = {
    "ada": {"email": "ada@example.org", "email_verified": True, "groups": ["rag-editors"]},
    "eve": {"email": "eve@example.org", "email_verified": False, "groups": []},
    "boss": {"email": "admin@example.org", "email_verified": True, "groups": ["rag-admins"]},
    "dora": {"email": "dora@example.org", "email_verified": True, "groups": []},
}

# The provider's signing key, made here so the token tests can sign what it would sign.
SIGNING_KEY = RSAKey.generate_key(2048, parameters={"kid": "tests-key", "use": "sig"})


def _node() -> str:
    node = shutil.which("node")
    installed = (ROOT / "node_modules/oidc-provider/package.json").is_file()
    if node and installed:
        return node
    if os.environ.get("CI"):
        pytest.fail("CI needs Node and oidc-provider: npm install oidc-provider (see .ci/run)")
    pytest.skip("needs Node and the npm package oidc-provider (see .ci/run)")


@contextlib.contextmanager
def run_provider(port: int, redirect_uri: str) -> Iterator[str]:
    """Start the provider for one client (redirect_uri) on 127.0.0.1:port; yields its issuer."""
    config = {
        "port": port,
        "client": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [redirect_uri],
        },
        "accounts": ACCOUNTS,
        "jwks": {"keys": [SIGNING_KEY.as_dict(private=True)]},
    }
    process = subprocess.Popen(
        [_node(), str(SCRIPT), json.dumps(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its development-mode warnings
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "ready <issuer>", or "" if it died
        if not line.startswith("ready "):
            raise RuntimeError(f"the OpenID Provider did not start (exit {process.poll()})")
        yield line.split()[1]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"')


def sign_in_at_provider(http: httpx.Client, start_url: str, login: str, callback: str) -> str:
    """Follow the site's start redirect through the provider's login and consent forms;
    return the callback URL the provider sends the browser to (not fetched)."""
    url, method, data = start_url, "GET", None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = http.request(method, url, data=data)
        if response.is_redirect:
            url, method, data = urljoin(url, response.headers["location"]), "GET", None
            if url.startswith(callback):
                return url
            continue
        found = FORM.search(response.text)
        if response.status_code != 200 or found is None:
            raise AssertionError(f"the provider answered {response.status_code}: {response.text}")
        action, fields = found.groups()
        data = {name: unescape(value) for name, value in HIDDEN.findall(fields)}
        if 'name="login"' in fields:
            data |= {"login": login, "password": "any password"}
        url, method = urljoin(url, unescape(action)), "POST"
    raise AssertionError("the provider never sent the browser back")
