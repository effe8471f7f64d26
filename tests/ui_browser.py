"""Driving Debian's Chromium with Playwright: launching it, screenshots, the axe-core audit."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("CI needs Chromium for the UI test: apt-get install chromium")
    pytest.skip("no Chromium here (apt-get install chromium to run the UI test)")


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def new_page(launched: Any, url: str, *, signed_in: bool = True, **context: Any) -> Any:
    """A page in its own context (viewport, color_scheme...) at url, failing on script errors;
    signed in as the tests' admin through the login form unless `signed_in` is False."""
    # bypass_csp: Playwright's polling predicates run through eval, which the site's CSP
    # forbids (tests/auth/test_browser.py checks the CSP in a browser without this).
    ctx = launched.new_context(
        viewport=context.pop("viewport", DESKTOP), bypass_csp=True, **context
    )
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    if signed_in:
        sign_in(page, url)
    page.goto(url)
    return page


def sign_in(page: Any, url: str) -> None:
    """Sign in through the login form as the tests' admin (tests/conftest.py creates it)."""
    parts = urlsplit(url)
    page.goto(f"{parts.scheme}://{parts.netloc}/login")
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector("#signed-in-as", state="attached")  # hidden on phones


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def axe_source() -> str:
    """axe-core's script (npm install axe-core: .ci/run does it), or skip."""
    candidates = [os.environ.get("AXE_CORE_JS", ""), ROOT / "node_modules/axe-core/axe.min.js"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text()
    if os.environ.get("CI"):
        pytest.fail("CI needs axe-core: npm install axe-core (see .ci/run)")
    pytest.skip("axe-core is not installed (npm install axe-core)")


def serious_violations(page: Any, source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(content=source)
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
