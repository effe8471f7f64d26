"""Sign in with the OpenID Provider in real Chromium: the site's sign-in page, the provider's
own login and consent forms (oidc-provider from npm, on loopback), and back, signed in."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.oidc_server import run_provider
from tests.auth.test_oidc import CALLBACK, oidc_env
from tests.conftest import _free_port, run_server, settings_with
from tests.helpers import ADMIN_EMAIL, AUTH
from tests.ui_browser import CHROMIUM_ARGS, chromium_path


@pytest.fixture
def browser():
    """Chromium; asked for after the servers (their fixtures need no running event loop)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _sign_in_at_provider(page, login: str) -> None:
    """The provider's development forms: any password signs in the account named by login."""
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    page.wait_for_selector("button[type=submit]:has-text('Continue')")  # consent
    page.click("button[type=submit]:has-text('Continue')")


def test_sign_in_with_the_provider_in_chromium(settings, browser):
    port = _free_port()
    with (
        run_server(settings_with(settings, **oidc_env(f"http://127.0.0.1:{port}"))) as site,
        run_provider(port, site + CALLBACK),
    ):
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{site}/login?next=/documents")
        button = page.locator("#oidc-sign-in")
        assert button.inner_text() == "Sign in with Test IdP"
        button.click()
        _sign_in_at_provider(page, "ada")
        page.wait_for_url(f"{site}/documents")
        assert page.inner_text("#signed-in-as") == "ada@example.org · editor"

        # An unverified email at the provider: the site says why, on its own sign-in page.
        other = browser.new_page()
        other.set_default_timeout(60_000)
        other.goto(f"{site}/login")
        other.click("#oidc-sign-in")
        _sign_in_at_provider(other, "eve")
        other.wait_for_selector("#oidc-error")
        assert "did not confirm your email address" in other.inner_text("#oidc-error")
        assert other.url.startswith(site + CALLBACK)
        # (Playwright runs an event loop here: the database is read through the admin API.)
        with httpx.Client(base_url=site, headers=AUTH, timeout=30) as admin:
            users = admin.get("/api/admin/users").json()["users"]
    assert sorted(u["email"] for u in users) == ["ada@example.org", ADMIN_EMAIL]
