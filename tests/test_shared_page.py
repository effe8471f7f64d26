"""The shared-conversation page in Chromium, as another signed-in user, at desktop and phone
width (screenshots in test-artifacts/): the snapshot, citations that open the passages the
viewer may read and say so for the others, no overflow, no serious axe-core violation."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.auth.people import PASSWORD, make_person
from tests.helpers import AUTH, SOLAR_GUIDE, ingest, parse_sse
from tests.ui_browser import (
    DESKTOP,
    PHONE,
    axe_source,
    browser,
    screenshot,
    serious_violations,
)

SECRET = "# Vault\n\nThe vault code is 4711 and the vault opens at dawn."


@pytest.fixture
def shared(live_server, settings) -> tuple[str, str, str]:
    """(the share link's path, the viewer's email, the owner's): an editor's conversation
    citing a shared guide and a passage of the editor's private collection."""
    owner = make_person(settings.database_url, "owner@example.org", "editor")
    viewer = make_person(settings.database_url, "viewer@example.org", "reader")
    with httpx.Client(base_url=live_server, headers=AUTH, timeout=120) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
        http.headers.update(owner.headers)
        ingest(http, "vault.md", SECRET, "vault")
        question = {"question": "What is the vault code and how efficient are solar panels?"}
        meta = parse_sse(http.post("/api/chat", json=question).text)[0][1]
        http.post("/api/chat", json={**question, "conversation_id": meta["conversation_id"]})
        created = http.post(f"/api/conversations/{meta['conversation_id']}/share")
        assert created.status_code == 201, created.text
    return urlsplit(created.json()["url"]).path, viewer.email, owner.email


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector("#signed-in-as", state="attached")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_shared_page_as_another_user(live_server, shared, size):
    path, email, _ = shared
    axe = axe_source()
    viewport = DESKTOP if size == "desktop" else PHONE
    with browser() as chromium:
        context = chromium.new_context(viewport=viewport, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _sign_in(page, live_server, email)
        page.goto(live_server + path)
        answers = page.locator(".shared-answer")
        assert answers.count() == 2
        assert "22 percent" in answers.first.inner_text()
        # Every citation of the first answer: the guide's passage opens, the vault's does not.
        sources = answers.first.locator(".shared-sources li")
        texts = [sources.nth(i).inner_text() for i in range(sources.count())]
        assert any("not available to you" in t and "Vault" in t for t in texts), texts
        guide = answers.first.locator("li", has_text="Solar Panels Guide").first
        number = guide.get_attribute("data-n")
        answers.first.locator(f'button.cite[data-n="{number}"]').first.click()
        assert guide.locator("details").get_attribute("open") is not None
        assert guide.locator("blockquote.passage").is_visible()
        assert "opens at dawn" not in answers.first.locator(".shared-sources").inner_text()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the {size} screen"
        screenshot(page, f"shared-conversation-{size}", full_page=True)
        assert serious_violations(page, axe) == []
        assert errors == []
        context.close()


def test_the_owner_shares_from_the_chat_page_and_revokes(live_server, shared):
    _, viewer_email, owner_email = shared
    with browser() as chromium:
        owner = chromium.new_context(viewport=PHONE, bypass_csp=True).new_page()
        owner.set_default_timeout(60_000)
        errors: list[str] = []
        owner.on("pageerror", lambda exc: errors.append(str(exc)))
        _sign_in(owner, live_server, owner_email)
        owner.goto(live_server + "/")
        owner.locator("#toggle-sidebar").click()  # the conversation list is a drawer on phones
        owner.locator("#conversation-list li[data-id] button.share").first.click()
        dialog = owner.locator("#share-dialog")
        assert dialog.is_visible()
        assert "Viewers must be signed in" in dialog.inner_text()  # public links are off
        owner.wait_for_function(
            "document.getElementById('share-live').textContent.includes('1 link works now')"
        )  # the fixture's link
        owner.select_option("#share-expiry", "7")
        owner.click("#share-create")
        owner.wait_for_function("document.getElementById('share-url').value !== ''")
        link = owner.input_value("#share-url")
        assert "works until" in owner.inner_text("#share-status")
        screenshot(owner, "share-dialog-phone")
        exported = owner.request.get(live_server + owner.get_attribute("#export-md", "href"))
        assert exported.ok and exported.text().startswith("# What is the vault code")

        viewer = chromium.new_context(viewport=DESKTOP, bypass_csp=True).new_page()
        _sign_in(viewer, live_server, viewer_email)
        assert viewer.goto(link).status == 200
        assert viewer.locator(".shared-answer").count() == 2

        owner.click("#share-revoke")
        owner.wait_for_function(
            "document.getElementById('share-status').textContent.includes('revoked')"
        )
        owner.wait_for_function(
            "document.getElementById('share-live').textContent.startsWith('Not shared')"
        )
        assert viewer.goto(link).status == 404
        assert errors == []
