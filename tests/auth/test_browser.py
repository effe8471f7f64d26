"""In real Chromium, from a page of another origin on the same machine (same site, so the
Lax cookie is sent and the server's own checks must refuse): a form POST, a WebSocket and a
frame. Then the invitation flow with two browser contexts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.conftest import run_asgi
from tests.helpers import AUTH, SOLAR_GUIDE, ingest
from tests.ui_browser import CHROMIUM_ARGS, chromium_path, sign_in

ATTACK = """<!doctype html><html><body>
<form id="f" method="post" enctype="text/plain" action="{site}/api/account/keys">
  <input name='{{"name": "stolen", "x": "' value='"}}'>
</form>
<iframe id="frame" src="{site}/"></iframe>
<script>
  window.wsResult = "pending";
  const ws = new WebSocket("{ws}/ws/chat");
  ws.onopen = () => {{ window.wsResult = "open"; }};
  ws.onerror = () => {{ if (window.wsResult === "pending") window.wsResult = "refused"; }};
  ws.onclose = () => {{ if (window.wsResult === "pending") window.wsResult = "refused"; }};
</script>
</body></html>"""


@pytest.fixture
def attacker(live_server) -> Iterator[str]:
    """Another origin: the same host on another port, serving a hostile page."""
    page = ATTACK.format(site=live_server, ws=live_server.replace("http://", "ws://"))

    async def evil(request):
        return HTMLResponse(page)

    with run_asgi(Starlette(routes=[Route("/", evil)])) as url:
        yield url


@pytest.fixture
def browser():
    """Chromium; asked for after the servers (their fixtures need no running event loop)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _keys(live_server: str) -> list[str]:
    with httpx.Client(base_url=live_server, headers=AUTH, timeout=30) as http:
        return [k["name"] for k in http.get("/api/account/keys").json()["keys"]]


def test_another_origin_cannot_post_open_a_websocket_or_frame_the_site(
    live_server, attacker, browser
):
    page = browser.new_page()
    page.set_default_timeout(60_000)
    sign_in(page, live_server)
    before = _keys(live_server)
    page.goto(attacker)
    page.wait_for_function("window.wsResult !== 'pending'")
    assert page.evaluate("window.wsResult") == "refused"
    # frame-ancestors 'none': Chromium replaces the framed page with its error page.
    child = page.frames[1]
    child.wait_for_load_state()
    deadline = time.monotonic() + 30
    while child.url in ("", "about:blank") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert child.url.startswith("chrome-error://"), child.url
    with page.expect_response(lambda r: r.url.endswith("/api/account/keys")) as posted:
        page.evaluate("document.getElementById('f').submit()")
    assert posted.value.status == 403
    # The refused POST's page has loaded: it cannot cut the next navigation short.
    page.wait_for_url(lambda url: url.endswith("/api/account/keys"))
    assert _keys(live_server) == before  # the cross-site POST created no key
    # The same browser, on the site itself, still works: the session was not the problem.
    page.goto(live_server + "/account")
    page.fill("#key-name", "mine")
    page.click("#key-form button")
    page.wait_for_selector("#new-key:not([hidden])")
    assert "rag_" in page.inner_text("#new-key")


def test_a_reader_invited_by_the_admin_sees_only_what_was_shared(
    live_server, tmp_path: Path, browser
):
    with httpx.Client(base_url=live_server, headers=AUTH, timeout=60) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)  # 'default': shared
        ingest(http, "secret.md", "# Secret plans\n\nThe admin's private notes.", "admin-only")
    admin = browser.new_context().new_page()
    admin.set_default_timeout(60_000)
    sign_in(admin, live_server)
    admin.goto(live_server + "/admin")
    admin.select_option("#invite-role", "reader")
    admin.click("#invite-form button")
    admin.wait_for_selector("#invite-link:not([hidden])")
    link = admin.inner_text("#invite-link")
    assert "/invite/" in link

    reader = browser.new_context().new_page()
    reader.set_default_timeout(60_000)
    reader.goto(link)
    reader.fill("#email", "reader@example.org")
    reader.fill("#password", "reader password")
    reader.click("#signup-form button")
    reader.wait_for_selector("#signed-in-as")
    assert "reader" in reader.inner_text("#signed-in-as")
    reader.goto(live_server + "/documents")
    reader.wait_for_selector("#document-list li[data-status=ready]")
    listed = reader.inner_text("#document-list")
    assert "Solar Panels Guide" in listed and "Secret plans" not in listed
    reader.goto(live_server + "/")
    reader.fill("#question", "What are the secret plans?")
    reader.click("#ask-button")
    reader.wait_for_selector(".turn[data-done=true]")
    assert "Secret" not in reader.inner_text(".sources")
    reader.screenshot(path=str(tmp_path / "reader.png"), full_page=True)
